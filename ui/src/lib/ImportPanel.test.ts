import { render, screen, within } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';
import { fakeBackend } from '../test/ipc';
import { MASK } from './bindings/Mask';
import type { ImportPreview } from './bindings/ImportPreview';
import ImportPanel from './ImportPanel.svelte';

function preview(reveal = false, exists = false): ImportPreview {
  const token = reveal ? 'ghp_secret123' : MASK;
  return {
    id: 'imp-1',
    file: '/home/me/claude_desktop_config.json',
    servers: [
      {
        def: {
          name: 'fs',
          transport: { type: 'stdio', command: 'npx', args: ['-y', 'server-fs', '/home/me/My Documents'], env: { GITHUB_TOKEN: token, NODE_OPTIONS: '--require /tmp/hook.js' }, cwd: '/srv/fs' },
          enabled: true,
          request_timeout_secs: 60,
        },
        launch: {
          server: 'fs',
          command: 'npx',
          args: ['-y', 'server-fs', '/home/me/My Documents'],
          env: [
            { name: 'GITHUB_TOKEN', value: token, changes_what_runs: false },
            { name: 'NODE_OPTIONS', value: '--require /tmp/hook.js', changes_what_runs: true },
          ],
          cwd: '/srv/fs',
          warnings: ['NODE_OPTIONS changes which code runs or how; make sure you expect NODE_OPTIONS=--require /tmp/hook.js', "'npx' is looked up on PATH: the first program of that name runs"],
          inherits: "It also gets Patchbay's own environment, without Patchbay's own PATCHBAY_* variables.",
          digest: 'import-digest',
        },
        exists,
      },
      {
        def: { name: 'remote', transport: { type: 'http', url: 'https://x.example/mcp', headers: { Authorization: reveal ? 'Bearer abc' : MASK } }, enabled: true, request_timeout_secs: 60 },
        launch: null,
        exists: false,
      },
    ],
    warnings: ['server "gh": ${input:token} is not resolved; fill it in after the import'],
  };
}

function setup(exists = false) {
  const backend = fakeBackend({
    pick_import_file: () => '/home/me/claude_desktop_config.json',
    preview_import: () => preview(false, exists),
    reveal_import: () => preview(true, exists),
    import_servers: () => preview().servers.map((s) => s.def),
    list_servers: () => (exists ? [{ name: 'fs' }] : []),
  });
  const onimported = vi.fn();
  render(ImportPanel, { onimported, oncancel: () => {} });
  return { backend, onimported, user: userEvent.setup() };
}

describe('import', () => {
  it('shows in full what each server would run: command line, folder, env (secrets hidden, run-changing ones shown and marked), warnings', async () => {
    const { backend, user } = setup();
    await user.click(screen.getByRole('button', { name: 'Choose file…' }));
    const list = await screen.findByRole('list', { name: 'Servers to import' });
    expect(backend.calls.find((c) => c.cmd === 'preview_import')?.args).toEqual({ path: '/home/me/claude_desktop_config.json' });
    // The command line, with the argument that has a space quoted, and where it runs.
    expect(within(list).getByText("npx -y server-fs '/home/me/My Documents'")).toBeInTheDocument();
    expect(within(list).getByText('/srv/fs')).toBeInTheDocument();
    // Every env variable: the secret hidden, the one that changes what runs shown, with a warning.
    const env = within(list).getByRole('table', { name: 'Environment of fs' });
    const token = within(env).getByRole('row', { name: /GITHUB_TOKEN/ });
    expect(token).toHaveTextContent('hidden');
    expect(token).not.toHaveTextContent('ghp_secret123');
    const nodeOptions = within(env).getByRole('row', { name: /NODE_OPTIONS/ });
    expect(nodeOptions).toHaveTextContent('--require /tmp/hook.js');
    expect(nodeOptions).toHaveTextContent('Changes which code runs');
    expect(within(list).getByRole('list', { name: 'Warnings about fs' })).toHaveTextContent(/looked up on PATH/);
    expect(within(list).getByText(/It also gets Patchbay's own environment/)).toBeInTheDocument();
    // A remote server: where it connects, its header value hidden.
    expect(within(list).getByText('https://x.example/mcp')).toBeInTheDocument();
    expect(within(list).getByRole('table', { name: 'Headers sent to remote' })).not.toHaveTextContent('Bearer');
    // The file's own warnings.
    expect(screen.getByRole('list', { name: 'Warnings about the file' })).toHaveTextContent(/is not resolved/);
    expect(backend.calls.some((c) => c.cmd === 'import_servers' || c.cmd === 'reveal_import')).toBe(false);
  });

  it('shows the values only when asked, from reveal_import, and hides them again', async () => {
    const { backend, user } = setup();
    await user.click(screen.getByRole('button', { name: 'Choose file…' }));
    const list = await screen.findByRole('list', { name: 'Servers to import' });
    const show = screen.getByRole('button', { name: 'Show values' });
    expect(show).toHaveAttribute('aria-pressed', 'false');
    await user.click(show);
    expect(backend.calls.find((c) => c.cmd === 'reveal_import')?.args).toEqual({ id: 'imp-1' });
    expect(await within(list).findByText('ghp_secret123')).toBeInTheDocument();
    expect(within(list).getByText('Bearer abc')).toBeInTheDocument();
    expect(show).toHaveAttribute('aria-pressed', 'true');
    await user.click(show);
    expect(within(list).queryByText('ghp_secret123')).toBeNull();
  });

  it('adds without starting by default, by the preview’s id', async () => {
    const { backend, onimported, user } = setup();
    await user.click(screen.getByRole('button', { name: 'Choose file…' }));
    const safe = await screen.findByRole('button', { name: 'Add without starting' });
    const start = screen.getByRole('button', { name: 'Add and start' });
    // The safe one comes first.
    expect(safe.compareDocumentPosition(start) & Node.DOCUMENT_POSITION_FOLLOWING).toBeTruthy();
    await user.click(safe);
    expect(backend.calls.filter((c) => c.cmd === 'import_servers').map((c) => c.args)).toEqual([{ id: 'imp-1', start: false, choices: { rename: {}, skip: [] } }]);
    expect(onimported).toHaveBeenCalledWith(expect.stringMatching(/Added 2 servers, turned off/));
  });

  it('adds and starts only on the clearly labelled button', async () => {
    const { backend, onimported, user } = setup();
    await user.click(screen.getByRole('button', { name: 'Choose file…' }));
    const start = await screen.findByRole('button', { name: 'Add and start' });
    expect(start).toHaveAccessibleDescription(/read what each one runs/);
    await user.click(start);
    expect(backend.calls.filter((c) => c.cmd === 'import_servers').map((c) => c.args)).toEqual([{ id: 'imp-1', start: true, choices: { rename: {}, skip: [] } }]);
    expect(onimported).toHaveBeenCalledWith('Added and started 2 servers.');
  });

  it('marks a taken name, adds nothing while it is, and lets the person rename or skip', async () => {
    const { backend, user } = setup(true);
    await user.click(screen.getByRole('button', { name: 'Choose file…' }));
    const name = (await screen.findAllByRole('textbox', { name: 'Add as' }))[0];
    expect(name).toHaveAccessibleDescription('A server named fs exists already: choose another name, or skip it.');
    expect(name).toHaveAttribute('aria-invalid', 'true');
    expect(screen.getByRole('button', { name: 'Add without starting' })).toBeDisabled();
    expect(screen.getByRole('button', { name: 'Add and start' })).toBeDisabled();
    // Renamed onto the file's other server: still a clash.
    await user.clear(name);
    await user.type(name, 'remote');
    expect(name).toHaveAccessibleDescription(/Another server of this file is added as remote/);
    await user.clear(name);
    await user.type(name, 'fs-work');
    expect(screen.getByRole('button', { name: 'Add without starting' })).toBeEnabled();
    // Skipping the other one: exactly these choices go to the engine.
    await user.click(screen.getAllByRole('checkbox', { name: 'Skip it' })[1]);
    expect(screen.getByText('1 of 2 to add.')).toBeInTheDocument();
    await user.click(screen.getByRole('button', { name: 'Add without starting' }));
    expect(backend.calls.find((c) => c.cmd === 'import_servers')?.args).toEqual({
      id: 'imp-1',
      start: false,
      choices: { rename: { fs: 'fs-work' }, skip: ['remote'] },
    });
  });

  it('shows why a file cannot be read, and a changed path needs a new preview', async () => {
    fakeBackend({
      preview_import: (args) => {
        if (String(args.path).endsWith('bad.json')) throw { message: 'bad.json line 3, column 5: expected a value' };
        return preview();
      },
    });
    render(ImportPanel, { onimported: () => {}, oncancel: () => {} });
    const user = userEvent.setup();
    const path = screen.getByLabelText('Configuration file');
    await user.type(path, '/tmp/good.json');
    await user.click(screen.getByRole('button', { name: 'Preview' }));
    await screen.findByRole('button', { name: 'Add without starting' });
    await user.type(path, 'x');
    expect(screen.queryByRole('button', { name: 'Add without starting' })).toBeNull();
    await user.clear(path);
    await user.type(path, '/tmp/bad.json');
    await user.click(screen.getByRole('button', { name: 'Preview' }));
    expect(await screen.findByRole('alert')).toHaveTextContent('line 3, column 5');
  });
});
