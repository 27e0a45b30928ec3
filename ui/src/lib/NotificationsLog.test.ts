import { render, screen, within } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';
import { fakeBackend, stdioServer } from '../test/ipc';
import type { Notice } from './bindings/Notice';
import { HubStore } from './hub.svelte';
import NotificationsLog from './NotificationsLog.svelte';

const at = Date.UTC(2026, 11, 1, 12, 0, 0);
const log = (seq: number, level: string, data: string): Notice => ({ seq, at_ms: at, method: 'notifications/message', level, params: { level, data } });

describe('the notifications log', () => {
  it('shows the journal, then what arrives, filtered by kind, level and text', async () => {
    const backend = fakeBackend({
      list_servers: () => [stdioServer('ev')],
      notifications: () => [
        { seq: 1, at_ms: at, method: 'notifications/tools/list_changed', level: null, params: null },
        log(2, 'debug', 'Debug-level message'),
      ],
    });
    const hub = new HubStore();
    await hub.start();
    render(NotificationsLog, { hub, server: 'ev' });
    const list = await screen.findByRole('log', { name: 'Notifications from ev' });
    await vi.waitFor(() => expect(within(list).getAllByRole('listitem')).toHaveLength(2));

    backend.emit(
      { event: 'notice', server: 'ev', notice: log(3, 'error', 'Error-level message') },
      { event: 'notice', server: 'ev', notice: { seq: 4, at_ms: at, method: 'notifications/resources/updated', level: null, params: { uri: 'demo://resource/dynamic/text/1' } } },
      { event: 'notice', server: 'other', notice: log(5, 'info', 'not ours') },
    );
    await vi.waitFor(() => expect(within(list).getAllByRole('listitem')).toHaveLength(4));
    expect(list).not.toHaveTextContent('not ours');
    expect(list).toHaveTextContent('demo://resource/dynamic/text/1');

    const user = userEvent.setup();
    await user.selectOptions(screen.getByLabelText('Kind'), 'log');
    expect(within(list).getAllByRole('listitem')).toHaveLength(2);
    await user.selectOptions(screen.getByLabelText('Lowest level'), 'warning');
    expect(within(list).getAllByRole('listitem').map((li) => li.textContent)).toEqual([expect.stringContaining('Error-level message')]);
    await user.selectOptions(screen.getByLabelText('Kind'), 'all');
    await user.selectOptions(screen.getByLabelText('Lowest level'), 'debug');
    await user.type(screen.getByLabelText('Contains'), 'list_changed');
    expect(within(list).getAllByRole('listitem').map((li) => li.textContent)).toEqual([expect.stringContaining('tools/list_changed')]);
    expect(screen.getByText(/1 of 4 shown/)).toBeInTheDocument();
  });
});
