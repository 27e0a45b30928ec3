import { render, screen } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { fakeBackend, stdioServer } from '../test/ipc';
import { HubStore } from './hub.svelte';
import SamplingDialog from './SamplingDialog.svelte';

const request = {
  messages: [{ role: 'user', content: { type: 'text', text: 'Resource context: say hi' } }],
  systemPrompt: 'You are a helpful test server.',
  maxTokens: 100,
};

describe('a sampling request', () => {
  it('shows what the server sent; the person writes the reply and approves it, or rejects', async () => {
    const backend = fakeBackend({ list_servers: () => [stdioServer('ev')], answer_sampling: () => true });
    const hub = new HubStore();
    await hub.start();
    render(SamplingDialog, { hub });
    backend.emit({ event: 'sampling_requested', server: 'ev', id: 's1', request });
    const dialog = await screen.findByRole('dialog', { name: 'ev asks for a model’s reply' });
    expect(dialog).toHaveTextContent('You are a helpful test server.');
    expect(screen.getByRole('list', { name: 'Messages' })).toHaveTextContent('user: Resource context: say hi');
    const user = userEvent.setup();
    // An empty reply is not sent.
    await user.click(screen.getByRole('button', { name: 'Approve and send' }));
    expect(screen.getByRole('alert')).toHaveTextContent('write the reply');
    expect(backend.calls.some((c) => c.cmd === 'answer_sampling')).toBe(false);
    await user.type(screen.getByLabelText(/Your reply/), 'Hi!');
    await user.click(screen.getByRole('button', { name: 'Approve and send' }));
    expect(backend.calls.at(-1)).toEqual({ cmd: 'answer_sampling', args: { server: 'ev', id: 's1', reply: 'Hi!' } });
    await user.click(screen.getByRole('button', { name: 'Reject' }));
    expect(backend.calls.at(-1)?.args).toEqual({ server: 'ev', id: 's1', reply: null });
    backend.emit({ event: 'sampling_finished', server: 'ev', id: 's1', action: 'reject' });
    await expect.poll(() => screen.queryByRole('dialog')).toBeNull();
  });
});
