import { render, screen } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';
import { fakeBackend } from '../test/ipc';
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
    await user.type(screen.getByLabelText(/Environment/), 'DEBUG=1');
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
    expect(screen.getByLabelText('Name')).toHaveAccessibleDescription('give the server a name');
    expect(screen.getByLabelText('Command')).toHaveAccessibleDescription(/the program to run/);
    await user.type(screen.getByLabelText(/Environment/), 'NOEQUALS');
    await user.click(screen.getByRole('button', { name: 'Add' }));
    expect(screen.getByLabelText(/Environment/)).toHaveAccessibleDescription('"NOEQUALS" is not NAME=value');
    expect(backend.calls).toHaveLength(0);
  });
});
