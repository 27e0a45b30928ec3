import { render, screen } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { fakeBackend, stdioServer, type Handler } from '../test/ipc';
import { HubStore } from './hub.svelte';
import LinkWaits from './LinkWaits.svelte';
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

async function setup(answer: Handler = () => true) {
  const backend = fakeBackend({ list_servers: () => [stdioServer('ev')], answer_elicitation: answer });
  const hub = new HubStore();
  await hub.start();
  render(QuestionDialog, { hub });
  render(LinkWaits, { hub });
  return { backend, hub };
}

const linkRequest = (elicitationId: string) => ({
  mode: 'url',
  message: 'Approve the payment',
  url: 'https://auth.example.com/consent?x=1',
  elicitationId,
});

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

  it('shows a link question’s whole link and host, opens it on request, and waits for the server', async () => {
    const { backend } = await setup();
    backend.emit({ event: 'elicitation_requested', server: 'ev', id: 'ask-1', request: linkRequest('pay-1') });
    const dialog = await screen.findByRole('dialog', { name: 'ev asks' });
    expect(dialog).toHaveAccessibleDescription(/^Approve the payment.*auth\.example\.com/);
    // The whole link, with its scheme and host picked out; focus on it, not on a button.
    const link = screen.getByText((_, el) => el?.classList.contains('link') === true);
    expect(link).toHaveTextContent('https://auth.example.com/consent?x=1');
    expect(link.querySelector('strong')).toHaveTextContent('https://auth.example.com');
    expect(link).toHaveFocus();
    expect(screen.queryByRole('textbox')).toBeNull(); // no form
    expect(screen.getByRole('status')).toBeEmptyDOMElement();

    const user = userEvent.setup();
    await user.click(screen.getByRole('button', { name: 'Open in browser' }));
    expect(backend.calls.find((c) => c.cmd === 'answer_elicitation')?.args).toEqual({
      server: 'ev',
      id: 'ask-1',
      action: 'accept',
      content: null,
    });
    backend.emit({ event: 'elicitation_finished', server: 'ev', id: 'ask-1', action: 'accept' });
    await expect.poll(() => screen.queryByRole('dialog')).toBeNull();
    const waiting = screen.getByRole('status');
    expect(waiting).toHaveTextContent('Waiting for you to finish in the browser: Approve the payment (auth.example.com)');

    // The server says the person is done there.
    backend.emit({ event: 'elicitation_completed', server: 'ev', elicitation_id: 'pay-1' });
    await expect.poll(() => waiting.textContent?.trim()).toBe('');

    // Or the person says so.
    backend.emit({ event: 'elicitation_requested', server: 'ev', id: 'ask-2', request: linkRequest('pay-2') });
    await user.click(await screen.findByRole('button', { name: 'Open in browser' }));
    backend.emit({ event: 'elicitation_finished', server: 'ev', id: 'ask-2', action: 'accept' });
    await user.click(await screen.findByRole('button', { name: /^Done/ }));
    expect(waiting).toBeEmptyDOMElement();
  });

  it('cancels a link question on Escape, and waits for nothing', async () => {
    const { backend, hub } = await setup();
    backend.emit({ event: 'elicitation_requested', server: 'ev', id: 'ask-1', request: linkRequest('pay-1') });
    await screen.findByRole('dialog');
    await userEvent.setup().keyboard('{Escape}');
    expect(backend.calls.at(-1)).toEqual({
      cmd: 'answer_elicitation',
      args: { server: 'ev', id: 'ask-1', action: 'cancel', content: null },
    });
    expect(hub.linkWaits).toEqual([]);
  });

  it('keeps a link question open and says why when the browser cannot be opened', async () => {
    const { backend, hub } = await setup(() => {
      throw { message: 'could not open the browser: no display' };
    });
    backend.emit({ event: 'elicitation_requested', server: 'ev', id: 'ask-1', request: linkRequest('pay-1') });
    await userEvent.setup().click(await screen.findByRole('button', { name: 'Open in browser' }));
    expect(await screen.findByRole('alert')).toHaveTextContent('could not open the browser: no display');
    expect(screen.getByRole('dialog', { name: 'ev asks' })).toBeInTheDocument();
    expect(hub.linkWaits).toEqual([]);
  });
});
