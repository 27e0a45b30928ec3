import { render, screen, within } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { afterEach, describe, expect, it, vi } from 'vitest';
import App from './App.svelte';
import { fakeBackend, stdioServer, type Handler } from './test/ipc';
import type { Doctor } from './lib/bindings/Doctor';
import type { Export } from './lib/bindings/Export';
import type { FoundConfig } from './lib/bindings/FoundConfig';
import type { SavedExport } from './lib/bindings/SavedExport';

function app(doctor: Partial<Doctor>, extra: Record<string, Handler> = {}) {
  const backend = fakeBackend({
    list_servers: () => [stdioServer('alpha')],
    doctor: () => ({ data_dir: '/d', database: '/d/patchbay.db', peers: [], ...doctor }),
    ui_painted: () => null,
    list_tools: () => [],
    history: () => [],
    ...extra,
  });
  render(App);
  return backend;
}

describe('the window', () => {
  // What the window remembers (the sidebar folded, the key notice read) starts fresh each test.
  afterEach(() => localStorage.clear());

  it('shows the stored servers at once, says where secrets live, and reports its first paint', async () => {
    const backend = fakeBackend({
      list_servers: () => [stdioServer('alpha', { state: 'connecting' }), stdioServer('beta', { state: 'disconnected' })],
      doctor: () => ({ backend: 'key_file', path: '/home/me/.local/share/patchbay/vault.key', reason: 'no Secret Service on this desktop', data_dir: '/d', database: '/d/patchbay.db', peers: [] }),
      ui_painted: () => null,
      list_tools: () => [],
      history: () => [],
      server_details: () => ({ name: 'alpha', state: { state: 'connecting' }, initialize: null, pid: null, log: [] }),
    });
    render(App);
    expect(await screen.findByRole('button', { name: /alpha/ })).toHaveTextContent('Connecting…');
    expect(screen.getByRole('button', { name: /beta/ })).toHaveTextContent('Disconnected');
    // The first server is selected, so the main area is never empty.
    expect(screen.getByRole('heading', { level: 1, name: 'alpha' })).toBeInTheDocument();
    expect(await screen.findByText(/readable only by you: no Secret Service on this desktop/)).toBeInTheDocument();
    await vi.waitFor(() => expect(backend.calls.filter((c) => c.cmd === 'ui_painted')).toHaveLength(1));
    expect(backend.calls.find((c) => c.cmd === 'ui_painted')?.args).toEqual({ servers: 2 });
    // Subscribed before the first listing, so no state change can fall between the two.
    const order = backend.calls.map((c) => c.cmd);
    expect(order.indexOf('subscribe')).toBeLessThan(order.indexOf('list_servers'));

    // The views are tabs a keyboard can move between.
    const user = userEvent.setup();
    screen.getByRole('tab', { name: 'Playground' }).focus();
    await user.keyboard('{ArrowLeft}'); // wraps round to the last tab
    expect(screen.getByRole('tab', { name: 'Details' })).toHaveAttribute('aria-selected', 'true');
    expect(screen.getByRole('tab', { name: 'Details' })).toHaveFocus();
    expect(screen.getByRole('tabpanel')).toHaveAccessibleName('Details');
  });

  it('refreshes the server’s lists on request: the engine is asked, and the view lists again on its change event', async () => {
    let fail = false;
    const backend = app({ backend: 'keyring' }, {
      refresh_lists: () => {
        if (fail) throw { message: "server 'alpha' is not connected" };
        return null;
      },
    });
    const user = userEvent.setup();
    const refresh = await screen.findByRole('button', { name: 'Refresh' });
    await vi.waitFor(() => expect(backend.calls.filter((c) => c.cmd === 'list_tools')).toHaveLength(1));
    await user.click(refresh);
    expect(backend.calls.find((c) => c.cmd === 'refresh_lists')?.args).toEqual({ name: 'alpha' });
    backend.emit({ event: 'tools_changed', server: 'alpha' });
    await vi.waitFor(() => expect(backend.calls.filter((c) => c.cmd === 'list_tools')).toHaveLength(2));
    fail = true;
    await user.click(refresh);
    expect(await screen.findByRole('alert')).toHaveTextContent("Could not refresh: server 'alpha' is not connected");
  });

  it('tries the key again when the person asks, and the notice goes once the vault opens', async () => {
    let locked = true;
    const backend = app(
      { backend: 'locked', reason: 'the keyring is locked: unlock it' },
      {
        reopen_vault: () => ({
          data_dir: '/d',
          database: '/d/patchbay.db',
          peers: [],
          ...(locked ? { backend: 'locked', reason: 'the keyring is still locked' } : { backend: 'keyring' }),
        }),
      },
    );
    const user = userEvent.setup();
    await user.click(await screen.findByRole('button', { name: 'Try again' }));
    expect(await screen.findByRole('alert')).toHaveTextContent(/the keyring is still locked$/);
    locked = false;
    await user.click(screen.getByRole('button', { name: 'Try again' }));
    await vi.waitFor(() => expect(screen.queryByRole('alert')).toBeNull());
    expect(screen.queryByRole('button', { name: 'Try again' })).toBeNull();
    expect(backend.calls.filter((c) => c.cmd === 'reopen_vault')).toHaveLength(2);
  });

  it('shows a failing server’s pane: the cause in plain words, its last output, Retry now and Edit', async () => {
    const failing = stdioServer('alpha', { state: 'error', message: "server 'alpha' exited with status 1: Error: Cannot find module 'x'", retry_at_ms: null });
    const backend = fakeBackend({
      list_servers: () => [failing],
      doctor: () => ({ data_dir: '/d', database: '/d/patchbay.db', peers: [], backend: 'keyring' }),
      ui_painted: () => null,
      list_tools: () => [],
      history: () => [],
      reconnect: () => null,
      server_details: () => ({ name: 'alpha', state: failing.state, initialize: null, pid: null, log: ['starting', 'Error: Cannot find module \'x\'', '    at load (node:internal)'] }),
    });
    render(App);
    const pane = await screen.findByRole('region', { name: 'What went wrong with alpha' });
    expect(within(pane).getByRole('alert')).toHaveTextContent(/^The server exited with status 1, saying “Error: Cannot find module 'x'” — its output is under Details\.$/);
    expect(await within(pane).findByText(/at load \(node:internal\)/)).toBeInTheDocument();
    const user = userEvent.setup();
    await user.click(within(pane).getByRole('button', { name: 'Retry now' }));
    expect(backend.calls.find((c) => c.cmd === 'reconnect')?.args).toEqual({ name: 'alpha' });
    await user.click(within(pane).getByRole('button', { name: 'Edit' }));
    expect(await screen.findByRole('heading', { name: 'Edit alpha' })).toBeInTheDocument();
  });

  it('greets a first run with what to do, and offers no export of nothing', async () => {
    fakeBackend({
      list_servers: () => [],
      doctor: () => ({ data_dir: '/d', database: '/d/patchbay.db', peers: [], backend: 'no_key_yet' }),
      ui_painted: () => null,
    });
    render(App);
    expect(await screen.findByRole('heading', { name: 'Connect your first MCP server' })).toBeInTheDocument();
    expect(screen.getByRole('button', { name: 'Export…' })).toBeDisabled();
    const user = userEvent.setup();
    await user.click(screen.getByRole('button', { name: /^Import from Claude Desktop/ }));
    expect(await screen.findByRole('heading', { name: /Import/ })).toBeInTheDocument();
  });

  it('lists the other clients’ config files found on this machine on a first run, each opening its import preview', async () => {
    const backend = fakeBackend({
      list_servers: () => [],
      doctor: () => ({ data_dir: '/d', database: '/d/patchbay.db', peers: [], backend: 'no_key_yet' }),
      ui_painted: () => null,
      found_configs: (): FoundConfig[] => [
        { app: 'claude_desktop', path: '/home/me/.config/Claude/claude_desktop_config.json' },
        { app: 'cursor', path: '/home/me/.cursor/mcp.json' },
      ],
      preview_import: (args) => ({ id: 'p1', file: args.path, servers: [], warnings: [] }),
    });
    render(App);
    const list = await screen.findByRole('list', { name: 'Found on this machine' });
    const rows = within(list).getAllByRole('listitem');
    expect(rows.map((r) => r.textContent?.replace(/\s+/g, ' ').trim())).toEqual([
      'Claude Desktop /home/me/.config/Claude/claude_desktop_config.json Import…',
      'Cursor /home/me/.cursor/mcp.json Import…',
    ]);
    const user = userEvent.setup();
    await user.click(within(list).getByRole('button', { name: 'Import from Cursor: /home/me/.cursor/mcp.json' }));
    expect(await screen.findByRole('heading', { name: 'Import servers' })).toBeInTheDocument();
    // Previewed at once: the person sees what the file would add, nothing is added yet.
    await vi.waitFor(() => expect(backend.calls.filter((c) => c.cmd === 'preview_import').map((c) => c.args)).toEqual([{ path: '/home/me/.cursor/mcp.json' }]));
    expect(screen.getByLabelText('Configuration file')).toHaveValue('/home/me/.cursor/mcp.json');
    expect(backend.calls.some((c) => c.cmd === 'import_servers')).toBe(false);
  });

  it('offers the example server as a filled-in form that runs nothing until the person adds it', async () => {
    const backend = fakeBackend({
      list_servers: () => [],
      doctor: () => ({ data_dir: '/d', database: '/d/patchbay.db', peers: [], backend: 'no_key_yet' }),
      ui_painted: () => null,
      found_configs: () => [],
      add_server: () => null,
      list_tools: () => [],
      history: () => [],
    });
    render(App);
    const user = userEvent.setup();
    await user.click(await screen.findByRole('button', { name: 'Try the example server' }));
    const form = screen.getByRole('form', { name: 'Add a server' });
    expect(form).toHaveAccessibleDescription(/runs this command .* only once you press Add/);
    // The whole command is there to read.
    expect(screen.getByLabelText('Name')).toHaveValue('everything');
    expect(screen.getByLabelText('Command')).toHaveValue('npx');
    expect(screen.getByLabelText(/Arguments/)).toHaveValue('-y\n@modelcontextprotocol/server-everything@2026.8.31');
    expect(backend.calls.some((c) => c.cmd === 'add_server' || c.cmd === 'connect')).toBe(false);
    await user.click(within(form).getByRole('button', { name: 'Add' }));
    expect(backend.calls.find((c) => c.cmd === 'add_server')?.args.def).toMatchObject({
      name: 'everything',
      transport: { type: 'stdio', command: 'npx', args: ['-y', '@modelcontextprotocol/server-everything@2026.8.31'] },
    });
  });

  it('folds the server list away and back, and remembers it', async () => {
    localStorage.removeItem('patchbay.sidebar');
    app({ backend: 'keyring' });
    const user = userEvent.setup();
    const fold = await screen.findByRole('button', { name: /Hide servers/ });
    expect(fold).toHaveAttribute('aria-expanded', 'true');
    expect(screen.getByRole('navigation', { name: 'Servers' })).toBeVisible();
    await user.click(fold);
    expect(screen.queryByRole('navigation', { name: 'Servers' })).toBeNull();
    expect(screen.getByRole('button', { name: /Servers/ })).toHaveAttribute('aria-expanded', 'false');
    expect(localStorage.getItem('patchbay.sidebar')).toBe('hidden');
    await user.click(screen.getByRole('button', { name: /Servers/ }));
    expect(screen.getByRole('navigation', { name: 'Servers' })).toBeVisible();
    expect(localStorage.getItem('patchbay.sidebar')).toBe('shown');
  });

  it('keeps Import, Export and Settings out of the scrolling list, however many servers there are', async () => {
    app({ backend: 'keyring' }, { list_servers: () => Array.from({ length: 40 }, (_, i) => stdioServer(`server-${i}`)) });
    await screen.findByRole('button', { name: /server-39/ });
    const list = document.getElementById('server-scroll')!;
    expect(list).toContainElement(screen.getByRole('button', { name: /server-39/ }));
    for (const name of ['Import…', 'Export…', 'Settings']) {
      const button = screen.getByRole('button', { name });
      expect(list).not.toContainElement(button);
      expect(screen.getByRole('complementary')).toContainElement(button);
    }
  });

  it('says where the key file is until the person has read it once, then in Settings', async () => {
    const keyFile = { backend: 'key_file' as const, path: '/home/me/.local/share/patchbay/vault.key', reason: 'no Secret Service on this desktop' };
    app(keyFile);
    const user = userEvent.setup();
    const notice = await screen.findByText(/sealed under a key in/);
    expect(notice).toHaveTextContent(/vault\.key, readable only by you: no Secret Service on this desktop\. Settings says this again\./);
    await user.click(screen.getByRole('button', { name: 'Got it' }));
    expect(screen.queryByText(/sealed under a key in/)).toBeNull();
    expect(screen.getByRole('button', { name: 'Settings' })).toHaveFocus();
    expect(localStorage.getItem('patchbay.keyNotice')).toBe('seen:/home/me/.local/share/patchbay/vault.key');

    // In Settings from then on.
    await user.click(screen.getByRole('button', { name: 'Settings' }));
    const settings = screen.getByRole('region', { name: 'Settings' });
    expect(within(settings).getByText(/Sealed under a key in/)).toHaveTextContent(/\/home\/me\/\.local\/share\/patchbay\/vault\.key, readable only by you/);
    expect(within(settings).getByText('/d/patchbay.db')).toBeInTheDocument();
  });

  it('does not show the key-file notice again once it has been read, in a later session', async () => {
    localStorage.setItem('patchbay.keyNotice', 'seen:/k/vault.key');
    app({ backend: 'key_file', path: '/k/vault.key', reason: 'no Secret Service on this desktop' });
    await screen.findByRole('button', { name: /alpha/ });
    await vi.waitFor(() => expect(screen.getByRole('button', { name: 'Settings' })).toBeInTheDocument());
    // Give the doctor's answer time to arrive: still no notice.
    await new Promise((r) => setTimeout(r, 50));
    expect(screen.queryByText(/sealed under a key in/)).toBeNull();
    expect(screen.queryByRole('button', { name: 'Got it' })).toBeNull();
  });

  it('tells again about a key that moved to another file', async () => {
    localStorage.setItem('patchbay.keyNotice', 'seen:/old/vault.key');
    app({ backend: 'key_file', path: '/new/vault.key', reason: 'no Secret Service on this desktop' });
    expect(await screen.findByText(/sealed under a key in/)).toHaveTextContent('/new/vault.key');
  });

  it('shows the reason a locked vault gives, which says what to do', async () => {
    app({ backend: 'locked', reason: 'the keyring is locked: unlock it and restart Patchbay' });
    // Every saved secret is meant now, not only logins; the reason is shown as the engine says it.
    expect(await screen.findByRole('alert')).toHaveTextContent(
      /^Saved secrets \(logins, env and header values\) cannot be opened: the keyring is locked: unlock it and restart Patchbay$/,
    );
  });

  describe('export', () => {
    const document = { mcpServers: { alpha: { command: 'node', args: ['server.js'], env: { TOKEN: '' } } } };

    function exporting() {
      return app({ backend: 'keyring' }, {
        copy_text: () => null,
        export_servers: (args): Export => ({ document: args.includeSecrets ? { mcpServers: { alpha: { command: 'node', args: ['server.js'], env: { TOKEN: 't0ken' } } } } : document, secrets_left_out: args.includeSecrets ? 0 : 1 }),
      });
    }

    it('asks first, and by default copies without env and header values, saying how many were left out', async () => {
      const backend = exporting();
      const user = userEvent.setup();
      await user.click(await screen.findByRole('button', { name: 'Export…' }));
      const dialog = screen.getByRole('dialog', { name: 'Export servers' });
      expect(backend.calls.some((c) => c.cmd === 'export_servers')).toBe(false);
      expect(within(dialog).getByRole('radio', { name: /Leave them out/ })).toBeChecked();
      expect(within(dialog).getByRole('radio', { name: /Leave them out/ })).toHaveFocus();
      await user.click(within(dialog).getByRole('button', { name: 'Copy' }));
      expect(backend.calls.filter((c) => c.cmd === 'export_servers').map((c) => c.args)).toEqual([{ includeSecrets: false }]);
      const copied = () => backend.calls.filter((c) => c.cmd === 'copy_text').map((c) => c.args.text as string);
      expect(copied().map((t) => JSON.parse(t))).toEqual([document]);
      expect(await screen.findByText(/1 env and header value was left out/)).toHaveAttribute('role', 'status');
      expect(screen.queryByRole('dialog')).toBeNull();
      expect(screen.getByRole('button', { name: 'Export…' })).toHaveFocus();
    });

    it('copies the values only after the explicit choice, with a warning that the clipboard will hold them', async () => {
      const backend = exporting();
      const user = userEvent.setup();
      await user.click(await screen.findByRole('button', { name: 'Export…' }));
      const dialog = screen.getByRole('dialog', { name: 'Export servers' });
      expect(within(dialog).queryByText(/secrets will be in plain text/)).toBeNull();
      await user.click(within(dialog).getByRole('radio', { name: 'Include them' }));
      expect(within(dialog).getByRole('alert')).toHaveTextContent(/on the clipboard, where any program can read them/);
      await user.click(within(dialog).getByRole('button', { name: 'Copy with values' }));
      expect(backend.calls.filter((c) => c.cmd === 'export_servers').map((c) => c.args)).toEqual([{ includeSecrets: true }]);
      const copied = backend.calls.filter((c) => c.cmd === 'copy_text').map((c) => c.args.text as string);
      expect(copied).toHaveLength(1);
      expect(copied[0]).toContain('t0ken');
    });

    it('saves to the file the person chooses in the native dialog, without values by default', async () => {
      const backend = app({ backend: 'keyring' }, {
        save_export: (args): SavedExport | null => ({ path: '/home/me/mcp.json', servers: 1, secrets_left_out: args.includeSecrets ? 0 : 1 }),
      });
      const user = userEvent.setup();
      await user.click(await screen.findByRole('button', { name: 'Export…' }));
      const dialog = screen.getByRole('dialog', { name: 'Export servers' });
      await user.click(within(dialog).getByRole('button', { name: 'Save to a file…' }));
      expect(backend.calls.filter((c) => c.cmd === 'save_export').map((c) => c.args)).toEqual([{ includeSecrets: false }]);
      expect(await screen.findByText(/^Saved 1 server to \/home\/me\/mcp\.json\. 1 env and header value was left out/)).toHaveAttribute('role', 'status');
      expect(screen.queryByRole('dialog')).toBeNull();
      // Nothing went through the clipboard.
      expect(backend.calls.some((c) => c.cmd === 'export_servers' || c.cmd === 'copy_text')).toBe(false);
    });

    it('keeps the choice open when the save dialog is closed, and saves values only when asked', async () => {
      const answers: (SavedExport | null)[] = [null, { path: '/tmp/all.json', servers: 2, secrets_left_out: 0 }];
      const backend = app({ backend: 'keyring' }, { save_export: () => answers.shift() ?? null });
      const user = userEvent.setup();
      await user.click(await screen.findByRole('button', { name: 'Export…' }));
      const dialog = screen.getByRole('dialog', { name: 'Export servers' });
      await user.click(within(dialog).getByRole('radio', { name: 'Include them' }));
      await user.click(within(dialog).getByRole('button', { name: 'Save to a file…' }));
      expect(screen.getByRole('dialog', { name: 'Export servers' })).toBeInTheDocument();
      await user.click(within(dialog).getByRole('button', { name: 'Save to a file…' }));
      expect(backend.calls.filter((c) => c.cmd === 'save_export').map((c) => c.args)).toEqual([{ includeSecrets: true }, { includeSecrets: true }]);
      expect(await screen.findByText(/^Saved 2 servers to \/tmp\/all\.json, with their env and header values; only you can read the file\.$/)).toBeInTheDocument();
    });

    it('copies nothing when cancelled', async () => {
      const backend = exporting();
      const user = userEvent.setup();
      await user.click(await screen.findByRole('button', { name: 'Export…' }));
      await user.click(screen.getByRole('button', { name: 'Cancel' }));
      expect(screen.queryByRole('dialog')).toBeNull();
      expect(backend.calls.some((c) => c.cmd === 'export_servers')).toBe(false);
      expect(backend.calls.some((c) => c.cmd === 'copy_text')).toBe(false);
    });
  });
});
