import { render, screen, within } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';
import { fakeBackend, stdioServer } from '../test/ipc';
import { HubStore } from './hub.svelte';
import ServerList from './ServerList.svelte';

function setup(servers = [stdioServer('alpha'), { ...stdioServer('beta', { state: 'needs_auth' }), transport: { type: 'http' as const, url: 'https://x.example/mcp', headers: {} } }]) {
  const backend = fakeBackend({
    list_servers: () => servers,
    reconnect: () => null,
    // A login that waits for the browser until the test ends.
    login: () => new Promise(() => {}),
    cancel_login: () => true,
    set_enabled: () => null,
  });
  const hub = new HubStore();
  render(ServerList, { hub, selected: null, onadd: () => {}, onedit: () => {} });
  return { backend, hub };
}

describe('the server list', () => {
  it('shows every server with its state in words, not colour alone', async () => {
    const { hub } = setup();
    await hub.start();
    const alpha = await screen.findByRole('button', { name: /alpha/ });
    expect(alpha).toHaveTextContent('Connected');
    expect(screen.getByRole('button', { name: /beta/ })).toHaveTextContent('Needs login');
    // Buttons follow the state: a server that needs a login offers "Log in".
    const beta = screen.getByRole('group', { name: 'Actions for beta' });
    expect(within(beta).getByRole('button', { name: 'Log in' })).toBeInTheDocument();
    expect(within(screen.getByRole('group', { name: 'Actions for alpha' })).queryByRole('button', { name: 'Log in' })).toBeNull();
  });

  it('changes a badge live as state events arrive, with the error and when it retries', async () => {
    const { backend, hub } = setup();
    await hub.start();
    await screen.findByRole('button', { name: /alpha/ });
    backend.emit({ event: 'state', server: 'alpha', state: 'connecting' });
    await vi.waitFor(() => expect(screen.getByRole('button', { name: /alpha/ })).toHaveTextContent('Connecting…'));
    backend.emit({ event: 'state', server: 'alpha', state: 'error', message: 'server exited with status 1', retry_at_ms: Date.now() + 4000 });
    await vi.waitFor(() => expect(screen.getByRole('button', { name: /alpha/ })).toHaveTextContent('Error'));
    // The reason is announced once; the countdown beside it ticks without re-announcing.
    expect(screen.getByRole('alert')).toHaveTextContent(/^server exited with status 1$/);
    expect(screen.getByRole('alert').parentElement).toHaveTextContent(/server exited with status 1 · retrying in [34] s/);
  });

  it('sends each click on Reconnect to the engine, which starts one attempt for a burst', async () => {
    const { backend, hub } = setup();
    await hub.start();
    const group = await screen.findByRole('group', { name: 'Actions for alpha' });
    const user = userEvent.setup();
    for (let i = 0; i < 5; i++) await user.click(within(group).getByRole('button', { name: 'Reconnect' }));
    expect(backend.calls.filter((c) => c.cmd === 'reconnect').map((c) => c.args.name)).toEqual(Array(5).fill('alpha'));
  });

  it('shows a login waiting for the browser, with its link and a way to cancel', async () => {
    const { backend, hub } = setup();
    await hub.start();
    await screen.findByRole('button', { name: /beta/ });
    backend.emit({ event: 'login_url', server: 'beta', url: 'https://as.example/authorize?x=1' });
    const status = await screen.findByText('Waiting for the browser…');
    expect(status).toBeInTheDocument();
    await userEvent.setup().click(screen.getByRole('button', { name: 'Cancel login' }));
    expect(backend.calls.some((c) => c.cmd === 'cancel_login' && c.args.name === 'beta')).toBe(true);
    backend.emit({ event: 'login_finished', server: 'beta', ok: false, message: 'the login was cancelled' });
    await screen.findByText(/Login failed: the login was cancelled/);
    // And the person can try again.
    const again = within(screen.getByRole('group', { name: 'Actions for beta' })).getByRole('button', { name: 'Log in' });
    await userEvent.setup().click(again);
    expect(backend.calls.filter((c) => c.cmd === 'login')).toHaveLength(1);
    expect(screen.getByText('Waiting for the browser…')).toBeInTheDocument();
    expect(within(screen.getByRole('group', { name: 'Actions for beta' })).queryByRole('button', { name: 'Log in' })).toBeNull();
  });
});
