import { render, screen } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';
import { fakeBackend } from '../test/ipc';
import { MASK } from './bindings/Mask';
import type { ServerDef } from './bindings/ServerDef';
import ServerForm from './ServerForm.svelte';

describe('the server form', () => {
  it('adds a stdio server with its arguments and environment', async () => {
    const backend = fakeBackend({ add_server: () => null });
    const onsaved = vi.fn();
    render(ServerForm, { onsaved, oncancel: () => {} });
    const user = userEvent.setup();
    await user.type(screen.getByLabelText('Name'), 'everything');
    await user.type(screen.getByLabelText('Command'), 'npx');
    await user.type(screen.getByLabelText(/Arguments/), '-y{Enter}@modelcontextprotocol/server-everything');
    await user.click(screen.getByRole('button', { name: 'Add variable' }));
    // The new row's name field has the focus.
    await user.keyboard('DEBUG');
    await user.type(screen.getByLabelText('Value of DEBUG'), '1');
    await user.click(screen.getByRole('button', { name: 'Add' }));
    expect(backend.calls[0].args.def).toEqual({
      name: 'everything',
      transport: { type: 'stdio', command: 'npx', args: ['-y', '@modelcontextprotocol/server-everything'], env: { DEBUG: '1' }, cwd: null },
      enabled: true,
      request_timeout_secs: 60,
      oauth_client_id: null,
      oauth_client_metadata_url: null,
      roots: [],
    });
    expect(onsaved).toHaveBeenCalledWith('everything');
  });

  it('keeps the roots, which it does not edit, when a server is saved', async () => {
    const backend = fakeBackend({ update_server: () => null });
    const existing = {
      name: 'ev',
      transport: { type: 'stdio' as const, command: 'node', args: ['s.js'], env: {}, cwd: null },
      enabled: true,
      request_timeout_secs: 60,
      roots: [{ uri: 'file:///home/me/alpha/', name: 'alpha' }],
    };
    render(ServerForm, { existing, onsaved: () => {}, oncancel: () => {} });
    const user = userEvent.setup();
    await user.clear(screen.getByLabelText('Command'));
    await user.type(screen.getByLabelText('Command'), 'deno');
    await user.click(screen.getByRole('button', { name: 'Save' }));
    expect(backend.calls[0].args.def).toMatchObject({ transport: { command: 'deno' }, roots: existing.roots });
  });

  describe('renaming', () => {
    const existing: ServerDef = {
      name: 'ev',
      transport: { type: 'stdio', command: 'node', args: ['s.js'], env: {}, cwd: null },
      enabled: true,
      request_timeout_secs: 60,
      roots: [],
    };

    it('edits the name, sending the server’s current name with the new definition', async () => {
      const backend = fakeBackend({ update_server: () => null });
      const onsaved = vi.fn();
      render(ServerForm, { existing, onsaved, oncancel: () => {} });
      const user = userEvent.setup();
      const field = screen.getByLabelText('Name');
      expect(field).toBeEnabled();
      await user.clear(field);
      await user.type(field, 'everything');
      expect(field).toHaveAccessibleDescription(/keeps its history and saved login/);
      await user.click(screen.getByRole('button', { name: 'Save' }));
      const call = backend.calls.find((c) => c.cmd === 'update_server')!;
      expect(call.args.name).toBe('ev');
      expect((call.args.def as ServerDef).name).toBe('everything');
      expect(onsaved).toHaveBeenCalledWith('everything');
    });

    it('shows a taken name at the Name field and stays open', async () => {
      fakeBackend({
        update_server: () => {
          throw { message: "a server named 'other' already exists; choose another name", field: 'name' };
        },
      });
      const onsaved = vi.fn();
      render(ServerForm, { existing, onsaved, oncancel: () => {} });
      const user = userEvent.setup();
      const field = screen.getByLabelText('Name');
      await user.clear(field);
      await user.type(field, 'other');
      await user.click(screen.getByRole('button', { name: 'Save' }));
      expect(field).toHaveAttribute('aria-invalid', 'true');
      expect(field).toHaveAccessibleDescription(/A server named 'other' already exists; choose another name\./);
      expect(onsaved).not.toHaveBeenCalled();
    });
  });

  it('shows the engine’s validation message beside the field it names, and stays open', async () => {
    fakeBackend({
      add_server: () => {
        throw { message: 'server \'r\': url "ftp://x" must start with http:// or https://', field: 'url' };
      },
    });
    const onsaved = vi.fn();
    render(ServerForm, { onsaved, oncancel: () => {} });
    const user = userEvent.setup();
    await user.type(screen.getByLabelText('Name'), 'r');
    await user.click(screen.getByLabelText('Streamable HTTP'));
    await user.type(screen.getByLabelText('URL'), 'ftp://x');
    await user.click(screen.getByRole('button', { name: 'Add' }));
    const url = screen.getByLabelText('URL');
    expect(url).toHaveAttribute('aria-invalid', 'true');
    expect(url).toHaveAccessibleDescription(/must start with http:\/\/ or https:\/\//);
    expect(onsaved).not.toHaveBeenCalled();
  });

  it('catches what it can before asking the engine', async () => {
    const backend = fakeBackend({});
    render(ServerForm, { onsaved: () => {}, oncancel: () => {} });
    const user = userEvent.setup();
    await user.click(screen.getByRole('button', { name: 'Add' }));
    // Whole sentences, beside the field they are about, and the field marked wrong.
    expect(screen.getByLabelText('Name')).toHaveAccessibleDescription('Give the server a name.');
    expect(screen.getByLabelText('Name')).toHaveAttribute('aria-invalid', 'true');
    expect(screen.getByLabelText('Command')).toHaveAccessibleDescription(/^The program to run/);
    await user.click(screen.getByRole('button', { name: 'Add variable' }));
    await user.type(screen.getByLabelText('Value of variable 1'), 'orphan');
    await user.click(screen.getByRole('button', { name: 'Add' }));
    expect(screen.getByRole('group', { name: 'Environment' })).toHaveAccessibleDescription(/Variable 1 needs a name\./);
    expect(backend.calls).toHaveLength(0);
  });

  it('offers https:// for an address typed without it, and puts a duplicate name at the name field', async () => {
    const backend = fakeBackend({
      add_server: () => {
        throw { message: "a server named 'remote' already exists; choose another name", field: 'name' };
      },
    });
    render(ServerForm, { onsaved: () => {}, oncancel: () => {} });
    const user = userEvent.setup();
    await user.type(screen.getByLabelText('Name'), 'remote');
    await user.click(screen.getByRole('radio', { name: 'Streamable HTTP' }));
    await user.type(screen.getByLabelText('URL'), 'example.com/mcp');
    await user.click(screen.getByRole('button', { name: 'Add' }));
    expect(screen.getByLabelText('URL')).toHaveAccessibleDescription(/^An address starts with https:\/\//);
    expect(backend.calls.some((c) => c.cmd === 'add_server')).toBe(false);
    expect(screen.getByText('https://example.com/mcp')).toBeInTheDocument();
    await user.click(screen.getByRole('button', { name: 'Use it' }));
    expect(screen.getByLabelText('URL')).toHaveValue('https://example.com/mcp');
    await user.click(screen.getByRole('button', { name: 'Add' }));
    expect(backend.calls.find((c) => c.cmd === 'add_server')?.args.def).toMatchObject({ transport: { type: 'http', url: 'https://example.com/mcp' } });
    expect(await screen.findByRole('alert')).toHaveTextContent("A server named 'remote' already exists; choose another name.");
    expect(screen.getByLabelText('Name')).toHaveAttribute('aria-invalid', 'true');
  });

  describe('secret values', () => {
    const stored: ServerDef = {
      name: 'gh',
      transport: { type: 'stdio', command: 'npx', args: ['server-gh'], env: { GITHUB_TOKEN: MASK, API_KEY: MASK }, cwd: null },
      enabled: true,
      request_timeout_secs: 60,
      roots: [],
    };

    it('shows stored values hidden, sends untouched ones back masked and typed ones as typed', async () => {
      const backend = fakeBackend({ update_server: () => null });
      render(ServerForm, { existing: stored, onsaved: () => {}, oncancel: () => {} });
      const user = userEvent.setup();
      const token = screen.getByLabelText('Value of GITHUB_TOKEN');
      expect(token).toHaveAttribute('type', 'password');
      expect(screen.getByLabelText('Value of API_KEY')).toHaveAttribute('type', 'password');
      expect(screen.getByRole('group', { name: 'Environment' })).toHaveAccessibleDescription(/Hidden values stay as they are unless you type a new one/);
      // Typing into a hidden value starts a new one: the mask is not kept as text.
      await user.type(token, 'ghp_new');
      await user.click(screen.getByRole('button', { name: 'Save' }));
      expect(backend.calls.filter((c) => c.cmd === 'update_server').map((c) => (c.args.def as ServerDef).transport)).toEqual([
        { type: 'stdio', command: 'npx', args: ['server-gh'], env: { GITHUB_TOKEN: 'ghp_new', API_KEY: MASK }, cwd: null },
      ]);
      expect(backend.calls.some((c) => c.cmd === 'reveal_server')).toBe(false);
    });

    it('asks the engine for the real values only on "Show values", and fills the hidden ones', async () => {
      const backend = fakeBackend({
        reveal_server: () => ({ ...stored, transport: { ...stored.transport, env: { GITHUB_TOKEN: 'ghp_stored', API_KEY: 'key_stored' } } }),
        update_server: () => null,
      });
      render(ServerForm, { existing: stored, onsaved: () => {}, oncancel: () => {} });
      const user = userEvent.setup();
      await user.clear(screen.getByLabelText('Value of API_KEY'));
      await user.type(screen.getByLabelText('Value of API_KEY'), 'typed');
      const show = screen.getByRole('button', { name: 'Show values' });
      await user.click(show);
      expect(backend.calls.filter((c) => c.cmd === 'reveal_server').map((c) => c.args)).toEqual([{ name: 'gh' }]);
      const token = screen.getByLabelText('Value of GITHUB_TOKEN');
      expect(token).toHaveAttribute('type', 'text');
      expect(token).toHaveValue('ghp_stored');
      // What the person typed stays.
      expect(screen.getByLabelText('Value of API_KEY')).toHaveValue('typed');
      expect(show).toHaveAttribute('aria-pressed', 'true');
      await user.click(show);
      expect(token).toHaveAttribute('type', 'password');
      expect(backend.calls.filter((c) => c.cmd === 'reveal_server')).toHaveLength(1);
    });

    it('hides typed header values in a new server, shown on request without asking the engine', async () => {
      const backend = fakeBackend({ add_server: () => null });
      render(ServerForm, { onsaved: () => {}, oncancel: () => {} });
      const user = userEvent.setup();
      await user.type(screen.getByLabelText('Name'), 'remote');
      await user.click(screen.getByLabelText('Streamable HTTP'));
      await user.type(screen.getByLabelText('URL'), 'https://x.example/mcp');
      await user.click(screen.getByRole('button', { name: 'Add header' }));
      await user.type(screen.getByLabelText('Name of header 1'), 'Authorization');
      const value = screen.getByLabelText('Value of Authorization');
      await user.type(value, 'Bearer abc');
      expect(value).toHaveAttribute('type', 'password');
      await user.click(screen.getByRole('button', { name: 'Show values' }));
      expect(value).toHaveAttribute('type', 'text');
      await user.click(screen.getByRole('button', { name: 'Add' }));
      expect(backend.calls.map((c) => c.cmd)).toEqual(['add_server']);
      expect((backend.calls[0].args.def as ServerDef).transport).toEqual({ type: 'http', url: 'https://x.example/mcp', headers: { Authorization: 'Bearer abc' } });
    });
  });
});
