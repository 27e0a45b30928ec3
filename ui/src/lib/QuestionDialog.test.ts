import { render, screen } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { fakeBackend, stdioServer } from '../test/ipc';
import { HubStore } from './hub.svelte';
import QuestionDialog from './QuestionDialog.svelte';

const request = {
  mode: 'form',
  message: 'Who are you?',
  requestedSchema: {
    type: 'object',
    properties: {
      name: { type: 'string', default: 'John Doe' },
      age: { type: 'integer', default: 30 },
      status: { type: 'string', enum: ['active', 'inactive'], default: 'active' },
      verified: { type: 'boolean', default: true },
    },
    required: ['name'],
  },
};

async function setup() {
  const backend = fakeBackend({ list_servers: () => [stdioServer('ev')], answer_elicitation: () => true });
  const hub = new HubStore();
  await hub.start();
  render(QuestionDialog, { hub });
  return { backend, hub };
}

describe('a server’s question', () => {
  it('opens as a dialog with the form’s defaults, and Accept sends typed values', async () => {
    const { backend } = await setup();
    expect(screen.queryByRole('dialog')).toBeNull();
    backend.emit({ event: 'elicitation_requested', server: 'ev', id: 'q1', request });
    const dialog = await screen.findByRole('dialog', { name: 'ev asks' });
    expect(dialog).toHaveAccessibleDescription('Who are you?');
    expect(screen.getByLabelText(/name/)).toHaveValue('John Doe');
    expect(screen.getByLabelText(/name/)).toHaveFocus();
    const user = userEvent.setup();
    await user.clear(screen.getByLabelText(/age/));
    await user.type(screen.getByLabelText(/age/), '41');
    await user.click(screen.getByRole('button', { name: 'Accept' }));
    expect(backend.calls.find((c) => c.cmd === 'answer_elicitation')?.args).toEqual({
      server: 'ev',
      id: 'q1',
      action: 'accept',
      content: { name: 'John Doe', age: 41, status: 'active', verified: true },
    });
    backend.emit({ event: 'elicitation_finished', server: 'ev', id: 'q1', action: 'accept' });
    await expect.poll(() => screen.queryByRole('dialog')).toBeNull();
  });

  it('declines, and Escape cancels; a required field left empty is named first', async () => {
    const { backend } = await setup();
    backend.emit({ event: 'elicitation_requested', server: 'ev', id: 'q2', request });
    await screen.findByRole('dialog');
    const user = userEvent.setup();
    await user.clear(screen.getByLabelText(/name/));
    await user.click(screen.getByRole('button', { name: 'Accept' }));
    expect(screen.getByRole('alert')).toHaveTextContent('required');
    expect(backend.calls.some((c) => c.cmd === 'answer_elicitation')).toBe(false);
    await user.click(screen.getByRole('button', { name: 'Decline' }));
    expect(backend.calls.at(-1)?.args).toMatchObject({ id: 'q2', action: 'decline', content: null });
    await user.keyboard('{Escape}');
    expect(backend.calls.at(-1)?.args).toMatchObject({ id: 'q2', action: 'cancel' });
  });
});
