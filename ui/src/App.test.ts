import { render, screen } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';
import App from './App.svelte';
import { fakeBackend, stdioServer } from './test/ipc';

describe('the window', () => {
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
});
