import { render, screen } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import type { Channel } from '@tauri-apps/api/core';
import { describe, expect, it, vi } from 'vitest';
import { fakeBackend, stdioServer } from '../test/ipc';
import { HubStore } from './hub.svelte';
import Playground from './Playground.svelte';

const tools = [
  {
    name: 'trigger-long-running-operation',
    title: 'Trigger Long Running Operation Tool',
    description: 'Demonstrates a long running operation with progress updates.',
    inputSchema: {
      type: 'object',
      properties: { duration: { type: 'number', default: 10 }, steps: { type: 'number', default: 5 } },
    },
    annotations: { readOnlyHint: true },
  },
  { name: 'echo', description: 'Echoes back the input', inputSchema: { type: 'object', properties: { message: { type: 'string' } }, required: ['message'] } },
  { name: 'refs', inputSchema: { type: 'object', properties: { a: { $ref: '#/$defs/a' } } } },
];

async function setup() {
  let finish: (report: unknown) => void = () => {};
  const backend = fakeBackend({
    list_servers: () => [stdioServer('ev')],
    list_tools: () => tools,
    history: () => [],
    cancel_call: () => true,
    call_tool: (args) => {
      (args.onStarted as Channel<string>).onmessage('call-1');
      return new Promise((resolve) => (finish = resolve));
    },
  });
  const hub = new HubStore();
  await hub.start();
  render(Playground, { hub, server: 'ev' });
  return { backend, hub, finish: (r: unknown) => finish(r) };
}

describe('the playground', () => {
  it('searches tools and shows their annotations', async () => {
    await setup();
    expect(await screen.findByRole('button', { name: /Trigger Long Running/ })).toHaveTextContent('read-only');
    await userEvent.setup().type(screen.getByRole('searchbox', { name: 'Search tools' }), 'echoes');
    expect(screen.queryByRole('button', { name: /Trigger Long Running/ })).toBeNull();
    expect(screen.getByRole('button', { name: /echo/ })).toBeInTheDocument();
  });

  it('runs a tool from its form, streams progress, can cancel, and renders the result', async () => {
    const { backend, finish } = await setup();
    const user = userEvent.setup();
    await user.click(await screen.findByRole('button', { name: /Trigger Long Running/ }));
    const duration = screen.getByLabelText('duration');
    expect(duration).toHaveValue('10'); // the schema's default
    await user.clear(duration);
    await user.type(duration, '3');
    await user.click(screen.getByRole('button', { name: 'Run' }));
    const run = backend.calls.find((c) => c.cmd === 'call_tool')!;
    expect(run.args).toMatchObject({ server: 'ev', tool: 'trigger-long-running-operation', arguments: { duration: 3, steps: 5 } });

    backend.emit({ event: 'progress', server: 'ev', call_id: 'call-1', progress: 2, total: 5, message: null });
    await vi.waitFor(() => expect(screen.getByRole('progressbar', { name: 'Progress' })).toHaveAttribute('value', '2'));
    backend.emit({ event: 'log', server: 'ev', call_id: 'call-1', level: 'info', logger: null, data: 'step two' });
    await screen.findByText(/step two/);

    await user.click(screen.getByRole('button', { name: 'Cancel' }));
    expect(backend.calls.find((c) => c.cmd === 'cancel_call')?.args).toEqual({ callId: 'call-1' });

    finish({ call_id: 'call-1', server: 'ev', tool: 'trigger-long-running-operation', outcome: 'cancelled', error: 'cancelled by the user', duration_ms: 1200, duration_us: 1200000 });
    const result = await screen.findByRole('region', { name: 'Result' });
    expect(result).toHaveTextContent('Cancelled');
    expect(result).toHaveTextContent('1200 ms');
  });

  it('marks required fields and names what is wrong before anything is sent', async () => {
    const { backend } = await setup();
    const user = userEvent.setup();
    await user.click(await screen.findByRole('button', { name: /echo/ }));
    expect(screen.getByLabelText(/message/)).toBeRequired();
    await user.click(screen.getByRole('button', { name: 'Run' }));
    expect(screen.getByRole('alert')).toHaveTextContent('required');
    expect(backend.calls.some((c) => c.cmd === 'call_tool')).toBe(false);
  });

  it('gives a schema with $ref the JSON editor, and explains bad JSON', async () => {
    const { backend } = await setup();
    const user = userEvent.setup();
    await user.click(await screen.findByRole('button', { name: /refs/ }));
    expect(screen.getByText(/needs the JSON editor/)).toBeInTheDocument();
    const editor = screen.getByLabelText('Arguments (JSON)');
    await user.clear(editor);
    await user.type(editor, '[[1]');
    await user.click(screen.getByRole('button', { name: 'Run' }));
    expect(screen.getByRole('alert')).toHaveTextContent('must be a JSON object');
    expect(backend.calls.some((c) => c.cmd === 'call_tool')).toBe(false);
  });

  it('renders results by content type, with tool errors marked', async () => {
    const { finish } = await setup();
    const user = userEvent.setup();
    await user.click(await screen.findByRole('button', { name: /echo/ }));
    await user.type(screen.getByLabelText(/message/), 'hi');
    await user.click(screen.getByRole('button', { name: 'Run' }));
    finish({
      call_id: 'call-1', server: 'ev', tool: 'echo', outcome: 'tool_error', duration_ms: 3, duration_us: 3000,
      result: {
        isError: true,
        content: [
          { type: 'text', text: '{"a":1}' },
          { type: 'image', data: 'iVBORw0KGgo=', mimeType: 'image/png' },
          { type: 'resource_link', uri: 'test://static/resource/1', name: 'Resource 1' },
        ],
        structuredContent: { sum: 3 },
      },
    });
    const result = await screen.findByRole('region', { name: 'Result' });
    expect(result).toHaveTextContent('Tool error');
    expect(result.textContent).toContain('"a": 1'); // JSON text is pretty-printed
    expect(screen.getByRole('img')).toHaveAttribute('src', 'data:image/png;base64,iVBORw0KGgo=');
    expect(result).toHaveTextContent('test://static/resource/1');
    expect(result).toHaveTextContent('structuredContent');
  });
});
