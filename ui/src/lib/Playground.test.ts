import { render, screen, within } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import type { Channel } from '@tauri-apps/api/core';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { fakeBackend, stdioServer } from '../test/ipc';
import { nodePatternWorker } from '../test/worker';
import { HubStore } from './hub.svelte';
import { usePatternWorkers } from './patterns';
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

async function setup(extra: Parameters<typeof fakeBackend>[0] = {}) {
  let finish: (report: unknown) => void = () => {};
  const backend = fakeBackend({
    list_servers: () => [stdioServer('ev')],
    list_tools: () => tools,
    history: () => [],
    ...extra,
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

  it('lists each tool by the name you call, with its title, a count and a word when nothing matches', async () => {
    await setup();
    const row = await screen.findByRole('button', { name: /Trigger Long Running/ });
    expect(row.querySelector('code')).toHaveTextContent('trigger-long-running-operation');
    expect(row).toHaveTextContent('Trigger Long Running Operation Tool');
    expect(screen.getByText('3 tools')).toBeInTheDocument();
    const user = userEvent.setup();
    await user.type(screen.getByRole('searchbox', { name: 'Search tools' }), 'ech');
    expect(screen.getByText('1 of 3 tools')).toBeInTheDocument();
    await user.type(screen.getByRole('searchbox', { name: 'Search tools' }), 'zzz');
    expect(screen.getByText('No tool matches “echzzz”.')).toHaveAttribute('role', 'status');
  });

  it('works from the keyboard: / to search, arrows through one Tab stop, Ctrl+Enter runs, Escape cancels', async () => {
    const { backend, finish } = await setup();
    const user = userEvent.setup();
    await screen.findByRole('button', { name: /Trigger Long Running/ });
    await user.keyboard('/');
    expect(screen.getByRole('searchbox', { name: 'Search tools' })).toHaveFocus();
    await user.keyboard('{ArrowDown}');
    expect(screen.getByRole('button', { name: /Trigger Long Running/ })).toHaveFocus();
    await user.keyboard('{ArrowDown}');
    const echo = screen.getByRole('button', { name: /^echo/ });
    expect(echo).toHaveFocus();
    // One Tab stop for the whole list.
    expect(screen.getAllByRole('button').filter((b) => b.dataset.tool && b.tabIndex === 0)).toHaveLength(1);
    await user.keyboard('{Enter}');
    expect(screen.getByRole('heading', { name: 'echo' })).toBeInTheDocument();
    await user.type(screen.getByLabelText(/message/), 'hi');
    await user.keyboard('{Control>}{Enter}{/Control}');
    await vi.waitFor(() => expect(backend.calls.find((c) => c.cmd === 'call_tool')?.args).toMatchObject({ tool: 'echo', arguments: { message: 'hi' } }));
    await vi.waitFor(() => expect(screen.getByRole('button', { name: 'Cancel' })).toBeEnabled());
    // While a dialog is open, Escape is the dialog's: the call runs on.
    const dialog = document.createElement('div');
    dialog.setAttribute('role', 'dialog');
    dialog.setAttribute('aria-modal', 'true');
    document.body.append(dialog);
    await user.keyboard('{Escape}');
    expect(backend.calls.some((c) => c.cmd === 'cancel_call')).toBe(false);
    dialog.remove();
    await user.keyboard('{Escape}');
    await vi.waitFor(() => expect(backend.calls.find((c) => c.cmd === 'cancel_call')?.args).toEqual({ callId: 'call-1' }));
    finish({ call_id: 'call-1', outcome: 'cancelled', result: null, error: null, cut: null, duration_ms: 1 });
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
    expect(run.args).toMatchObject({ server: 'ev', tool: 'trigger-long-running-operation', arguments: { duration: 3, steps: 5 }, task: false });

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

  describe('patterns', () => {
    // Real worker threads running the window's worker code (Node has no DOM Worker).
    beforeAll(() => usePatternWorkers(nodePatternWorker));
    const patterned = [
      {
        name: 'lookup',
        inputSchema: {
          type: 'object',
          properties: { code: { type: 'string', pattern: '^[a-z]+$' }, evil: { type: 'string', pattern: '^(a+)+$' } },
        },
      },
    ];

    it('checks a pattern only on Run, and shows a mismatch at its field without running', async () => {
      const { backend } = await setup({ list_tools: () => patterned });
      const user = userEvent.setup();
      await user.click(await screen.findByRole('button', { name: /lookup/ }));
      const code = screen.getByLabelText('code');
      expect(code).toHaveAccessibleDescription(/matching \^\[a-z\]\+\$/);
      await user.type(code, 'ABC');
      // Typing checks nothing.
      expect(code).not.toHaveAttribute('aria-invalid', 'true');
      await user.click(screen.getByRole('button', { name: 'Run' }));
      await vi.waitFor(() => expect(code).toHaveAttribute('aria-invalid', 'true'));
      expect(code).toHaveAccessibleDescription(/does not match the pattern \^\[a-z\]\+\$/);
      expect(backend.calls.some((c) => c.cmd === 'call_tool')).toBe(false);

      await user.clear(code);
      await user.type(code, 'abc');
      await user.click(screen.getByRole('button', { name: 'Run' }));
      await vi.waitFor(() => expect(backend.calls.some((c) => c.cmd === 'call_tool')).toBe(true));
      expect(code).not.toHaveAttribute('aria-invalid', 'true');
    });

    it('runs once however often Run is pressed while the patterns are checked', async () => {
      const { backend } = await setup({ list_tools: () => patterned });
      const user = userEvent.setup();
      await user.click(await screen.findByRole('button', { name: /lookup/ }));
      await user.type(screen.getByLabelText('evil'), `${'a'.repeat(40)}!`);
      // The check takes its 50 ms and more; Ctrl+Enter three times meanwhile.
      await user.keyboard('{Control>}{Enter}{Enter}{Enter}{/Control}');
      await vi.waitFor(() => expect(backend.calls.some((c) => c.cmd === 'call_tool')).toBe(true), { timeout: 3000 });
      await new Promise((done) => setTimeout(done, 300));
      expect(backend.calls.filter((c) => c.cmd === 'call_tool')).toHaveLength(1);
    });

    it('runs anyway when a pattern cannot be checked in time, and says the server will check it', async () => {
      const { backend } = await setup({ list_tools: () => patterned });
      const user = userEvent.setup();
      await user.click(await screen.findByRole('button', { name: /lookup/ }));
      const evil = screen.getByLabelText('evil');
      await user.type(evil, `${'a'.repeat(40)}!`);
      await user.click(screen.getByRole('button', { name: 'Run' }));
      await vi.waitFor(() => expect(backend.calls.some((c) => c.cmd === 'call_tool')).toBe(true), { timeout: 3000 });
      expect(backend.calls.find((c) => c.cmd === 'call_tool')!.args).toMatchObject({ arguments: { evil: `${'a'.repeat(40)}!` } });
      expect(evil).toHaveAccessibleDescription(/Could not check this pattern in time; the server will check it\./);
      expect(evil).not.toHaveAttribute('aria-invalid', 'true');
    });
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

  it('shows a result rendered or as JSON, labels each block with its annotations, and copies any block', async () => {
    const { backend, finish } = await setup({ copy_text: () => null });
    const user = userEvent.setup();
    await user.click(await screen.findByRole('button', { name: /echo/ }));
    await user.type(screen.getByLabelText(/message/), 'hi');
    await user.click(screen.getByRole('button', { name: 'Run' }));
    const answer = {
      content: [{ type: 'text', text: 'Echo: hi', annotations: { audience: ['user'], priority: 0.7 } }],
      structuredContent: { echoed: 'hi' },
    };
    finish({ call_id: 'call-1', server: 'ev', tool: 'echo', outcome: 'ok', duration_ms: 3, duration_us: 3000, result: answer });
    const result = await screen.findByRole('region', { name: 'Result' });
    expect(result).toHaveTextContent('content[0] · text');
    expect(result).toHaveTextContent('for user');
    expect(result).toHaveTextContent('priority 0.7');
    expect(result).toHaveTextContent('structuredContent');

    await user.click(screen.getByRole('button', { name: 'Copy content[0]' }));
    await user.click(screen.getByRole('button', { name: 'Copy structuredContent' }));
    const copied = () => backend.calls.filter((c) => c.cmd === 'copy_text').map((c) => c.args.text);
    expect(copied()).toEqual(['Echo: hi', JSON.stringify({ echoed: 'hi' }, null, 2)]);
    expect(await screen.findByText('Copied structuredContent.')).toHaveAttribute('role', 'status');

    await user.click(screen.getByRole('button', { name: 'JSON' }));
    expect(screen.getByRole('button', { name: 'JSON' })).toHaveAttribute('aria-pressed', 'true');
    expect(JSON.parse(result.querySelector('pre.json')!.textContent!)).toEqual(answer);
    await user.click(screen.getByRole('button', { name: 'Copy' }));
    expect(JSON.parse(copied()[2] as string)).toEqual(answer);
  });

  it('says when a copied block holds characters nobody can see', async () => {
    const { backend, finish } = await setup({ copy_text: () => null });
    const user = userEvent.setup();
    await user.click(await screen.findByRole('button', { name: /echo/ }));
    await user.type(screen.getByLabelText(/message/), 'hi');
    await user.click(screen.getByRole('button', { name: 'Run' }));
    finish({ call_id: 'call-1', server: 'ev', tool: 'echo', outcome: 'ok', duration_ms: 3, duration_us: 3000, result: { content: [{ type: 'text', text: 'ls \u001b[2K\u202erm -rf' }] } });
    await user.click(await screen.findByRole('button', { name: 'Copy content[0]' }));
    expect(backend.calls.find((c) => c.cmd === 'copy_text')?.args.text).toBe('ls \u001b[2K\u202erm -rf');
    expect(await screen.findByText(/It holds 2 invisible or control characters/)).toBeVisible();
  });

  it('tells a tool that answered with isError apart from a call that failed', async () => {
    const { finish } = await setup();
    const user = userEvent.setup();
    await user.click(await screen.findByRole('button', { name: /echo/ }));
    await user.type(screen.getByLabelText(/message/), 'hi');
    await user.click(screen.getByRole('button', { name: 'Run' }));
    finish({ call_id: 'call-1', server: 'ev', tool: 'echo', outcome: 'failed', duration_ms: 3, duration_us: 3000, result: null, error: 'the connection closed' });
    const result = await screen.findByRole('region', { name: 'Result' });
    expect(result).toHaveTextContent('Failed');
    expect(result).toHaveTextContent('The connection closed.');
    expect(result).not.toHaveTextContent('isError');
  });

  it('says how much of a huge result it shows, leaves a too-large image out, and saves the whole', async () => {
    let answer: string | null = '/home/me/echo-result.json';
    const { backend, finish } = await setup({ save_call_result: () => answer });
    const user = userEvent.setup();
    await user.click(await screen.findByRole('button', { name: /echo/ }));
    await user.type(screen.getByLabelText(/message/), 'big');
    await user.click(screen.getByRole('button', { name: 'Run' }));
    finish({
      call_id: 'call-1', server: 'ev', tool: 'echo', outcome: 'ok', duration_ms: 900, duration_us: 900000,
      result: { content: [{ type: 'text', text: 'x'.repeat(1000) }, { type: 'image', data: '', mimeType: 'image/png' }] },
      cut: { total_bytes: 10_000_120, shown_bytes: 262_300 },
    });
    const result = await screen.findByRole('region', { name: 'Result' });
    expect(result).toHaveTextContent('This result is 10.0 MB; the window shows 262 kB of it');
    expect(screen.queryByRole('img')).toBeNull();
    expect(result).toHaveTextContent('too large to show here');

    await user.click(screen.getByRole('button', { name: 'Save whole result…' }));
    expect(backend.calls.find((c) => c.cmd === 'save_call_result')?.args).toEqual({ callId: 'call-1', fileName: 'echo-result.json' });
    expect(await screen.findByText('Saved the whole result to /home/me/echo-result.json.')).toHaveAttribute('role', 'status');

    // A closed dialog says nothing.
    answer = null;
    await user.click(screen.getByRole('button', { name: 'Save whole result…' }));
    await vi.waitFor(() => expect(result).not.toHaveTextContent('Saved the whole result'));
  });

  it('keeps the form and the JSON editor as two views of one argument value', async () => {
    const { backend, finish } = await setup();
    const user = userEvent.setup();
    await user.click(await screen.findByRole('button', { name: /echo/ }));
    await user.type(screen.getByLabelText(/message/), 'hi');
    const asJson = screen.getByRole('checkbox', { name: 'Edit the arguments as JSON' });
    await user.click(asJson);
    const editor = screen.getByLabelText('Arguments (JSON)') as HTMLTextAreaElement;
    expect(JSON.parse(editor.value)).toEqual({ message: 'hi' });

    // An edit in JSON reaches the form; a key the form has no field for is kept.
    await user.clear(editor);
    await user.click(editor);
    await user.paste('{"message": "bye", "extra": 1}');
    await user.click(asJson);
    expect(screen.getByLabelText(/message/)).toHaveValue('bye');

    // Broken JSON says where, and keeps the last good value for the form.
    await user.click(asJson);
    const again = screen.getByLabelText('Arguments (JSON)') as HTMLTextAreaElement;
    await user.click(again);
    await user.keyboard('{Control>}{End}{/Control}{Backspace}');
    expect(await screen.findByRole('alert')).toHaveTextContent(/not valid JSON/);
    // Bad JSON is never run, not even as the last good value.
    await user.click(screen.getByRole('button', { name: 'Run' }));
    expect(backend.calls.some((c) => c.cmd === 'call_tool')).toBe(false);
    await user.click(asJson);
    expect(screen.getByLabelText(/message/)).toHaveValue('bye');

    // What runs is that one value, whichever view is open.
    await user.click(screen.getByRole('button', { name: 'Run' }));
    await vi.waitFor(() => expect(backend.calls.find((c) => c.cmd === 'call_tool')?.args.arguments).toEqual({ message: 'bye', extra: 1 }));
    finish({ call_id: 'call-1', outcome: 'ok', result: { content: [] }, error: null, cut: null, duration_ms: 1 });
  });

  it('will not fill in again arguments that were too large to keep for the window', async () => {
    const past = (id: string, cut: boolean) => ({
      call_id: id, server: 'ev', tool: 'echo', arguments: { message: 'x' }, result: null, error: null,
      outcome: 'ok', started_at_ms: 0, duration_ms: 5, arguments_cut: cut,
    });
    await setup({ history: () => [past('a', true), past('b', false)] });
    const earlier = await screen.findByRole('list', { name: 'Earlier calls' });
    await vi.waitFor(() => expect(within(earlier).getAllByRole('button', { name: /^Load/ }).filter((b) => !b.hasAttribute('disabled'))).toHaveLength(1));
    const [first, second] = within(earlier).getAllByRole('button', { name: /^Load/ });
    expect(first).toBeDisabled();
    expect(first).toHaveAccessibleDescription('(its arguments are too large to fill in again)');
    expect(within(earlier).getAllByRole('button', { name: /^Run echo again/ })[0]).toBeDisabled();
    expect(second).toBeEnabled();
  });

  it('keeps a history per tool, opens a row to its arguments and result, and loads or runs it again', async () => {
    const row = (id: string, tool: string, outcome: string, message: string) => ({
      call_id: id, server: 'ev', tool, arguments: { message }, result: null, error: outcome === 'cancelled' ? 'cancelled by the person' : null,
      outcome, started_at_ms: 0, duration_ms: 5, arguments_cut: false,
    });
    const { backend, finish } = await setup({
      history: () => [row('c2', 'echo', 'cancelled', 'stop'), row('c1', 'echo', 'ok', 'again'), row('t1', 'trigger-long-running-operation', 'ok', '')],
      past_call: (args) => ({ call_id: args.callId, server: 'ev', tool: 'echo', outcome: 'ok', result: { content: [{ type: 'text', text: 'Echo: again' }] }, error: null, duration_ms: 5, duration_us: 5000 }),
    });
    const user = userEvent.setup();
    await user.click(await within(screen.getByRole('list', { name: 'Tools' })).findByRole('button', { name: /echo/ }));
    const earlier = await screen.findByRole('list', { name: 'Earlier calls' });
    // Only echo's calls, unless all are asked for.
    expect(within(earlier).getAllByRole('listitem')).toHaveLength(2);
    // A cancel the person asked for reads as cancelled, not as an error.
    expect(within(earlier).getAllByRole('listitem')[0].querySelector('.outcome')).toHaveTextContent('cancelled');
    await user.click(screen.getByRole('checkbox', { name: 'All tools' }));
    expect(within(earlier).getAllByRole('listitem')).toHaveLength(3);
    await user.click(screen.getByRole('checkbox', { name: 'All tools' }));

    // Opened: the arguments, and the result read from the history.
    const second = within(earlier).getAllByRole('listitem')[1];
    await user.click(second.querySelector('summary')!);
    expect(second).toHaveTextContent('"message": "again"');
    expect(await within(second).findByText('Echo: again')).toBeInTheDocument();
    expect(backend.calls.find((c) => c.cmd === 'past_call')?.args).toEqual({ callId: 'c1' });

    // Load fills the form and runs nothing; Run runs those arguments at once.
    await user.click(within(second).getByRole('button', { name: /^Load/ }));
    expect(screen.getByLabelText(/message/)).toHaveValue('again');
    expect(backend.calls.some((c) => c.cmd === 'call_tool')).toBe(false);
    await user.click(within(second).getByRole('button', { name: /^Run echo again/ }));
    await vi.waitFor(() => expect(backend.calls.find((c) => c.cmd === 'call_tool')?.args).toMatchObject({ tool: 'echo', arguments: { message: 'again' } }));
    finish({ call_id: 'call-1', server: 'ev', tool: 'echo', outcome: 'ok', result: { content: [] }, error: null, duration_ms: 1, duration_us: 1000 });
  });

  it('runs a tool as a task when asked, and shows the task’s status and its lines in the log', async () => {
    const { backend, finish } = await setup();
    const user = userEvent.setup();
    await user.click(await screen.findByRole('button', { name: /Trigger Long Running/ }));
    const asTask = screen.getByRole('checkbox', { name: 'Run as a task' });
    expect(asTask).not.toBeChecked();
    await user.click(asTask);
    await user.click(screen.getByRole('button', { name: 'Run' }));
    const run = backend.calls.find((c) => c.cmd === 'call_tool')!;
    expect(Object.keys(run.args).sort()).toEqual(['arguments', 'onStarted', 'server', 'task', 'tool']);
    expect(run.args).toMatchObject({ server: 'ev', tool: 'trigger-long-running-operation', arguments: { duration: 10, steps: 5 }, task: true });

    const task = { event: 'task_status', server: 'ev', call_id: 'call-1', task_id: '7f3a9c21-5b6e-4d0a-9e8f-0c1d2e3f4a5b' } as const;
    backend.emit({ ...task, status: 'working', message: 'Gathering sources…' });
    const status = await screen.findByText('Task 7f3a9c21: working · Gathering sources…');
    expect(status).toHaveAttribute('role', 'status');
    expect(status).toHaveAttribute('aria-live', 'polite');
    backend.emit({ ...task, status: 'input_required', message: null });
    await vi.waitFor(() => expect(status).toHaveTextContent(/^Task 7f3a9c21: waiting for your answer$/));

    const log = screen.getByRole('log', { name: 'Call log' });
    const lines = [...log.querySelectorAll('li.task')].map((li) => li.textContent?.trim());
    expect(lines).toEqual(['task working: Gathering sources…', 'task input required']);

    // Cancel works as for any call (the engine sends tasks/cancel).
    await user.click(screen.getByRole('button', { name: 'Cancel' }));
    expect(backend.calls.find((c) => c.cmd === 'cancel_call')?.args).toEqual({ callId: 'call-1' });
    backend.emit({ ...task, status: 'cancelled', message: null });
    await vi.waitFor(() => expect(status).toHaveTextContent(/^Task 7f3a9c21: cancelled$/));
    finish({ call_id: 'call-1', server: 'ev', tool: 'trigger-long-running-operation', outcome: 'cancelled', error: 'cancelled by the user', result: null, duration_ms: 50, duration_us: 50000 });
    await screen.findByRole('region', { name: 'Result' });
  });

  it('ticks “Run as a task” for a tool that said it requires one, and says why', async () => {
    const { backend, finish } = await setup();
    const user = userEvent.setup();
    await user.click(await screen.findByRole('button', { name: /echo/ }));
    await user.type(screen.getByLabelText(/message/), 'hi');
    await user.click(screen.getByRole('button', { name: 'Run' }));
    expect(backend.calls.find((c) => c.cmd === 'call_tool')?.args).toMatchObject({ task: false });
    finish({
      call_id: 'call-1', server: 'ev', tool: 'echo', outcome: 'tool_error', error: null, duration_ms: 3, duration_us: 3000,
      result: { isError: true, content: [{ type: 'text', text: "MCP error -32601: Tool echo requires task augmentation (taskSupport: 'required')" }] },
    });
    await screen.findByRole('region', { name: 'Result' });
    const asTask = screen.getByRole('checkbox', { name: 'Run as a task' });
    await vi.waitFor(() => expect(asTask).toBeChecked());
    expect(asTask).toHaveAccessibleDescription(/said it requires running as a task/);

    // Another tool starts plain; back to this one, ticked again.
    await user.click(screen.getByRole('button', { name: /Trigger Long Running/ }));
    expect(screen.getByRole('checkbox', { name: 'Run as a task' })).not.toBeChecked();
    expect(screen.queryByText(/said it requires running as a task/)).toBeNull();
    await user.click(screen.getByRole('button', { name: /echo/ }));
    expect(screen.getByRole('checkbox', { name: 'Run as a task' })).toBeChecked();
    expect(screen.getByText(/said it requires running as a task/)).toBeInTheDocument();
  });

  it('on a 2026-07-28 server, says the server decides about tasks instead of offering to ask for one', async () => {
    const modern = { ...stdioServer('ev'), spoke: { era: 'stateless', protocol_version: '2026-07-28' } };
    const { backend, finish } = await setup({ list_servers: () => [modern] });
    const user = userEvent.setup();
    await user.click(await screen.findByRole('button', { name: /Trigger Long Running/ }));
    expect(screen.queryByRole('checkbox', { name: 'Run as a task' })).toBeNull();
    expect(screen.getByText(/This server decides which calls run as tasks/)).toBeInTheDocument();
    await user.click(screen.getByRole('button', { name: 'Run' }));
    expect(backend.calls.find((c) => c.cmd === 'call_tool')?.args).toMatchObject({ task: false });
    // A task the server chose shows its status like any other.
    backend.emit({ event: 'task_status', server: 'ev', call_id: 'call-1', task_id: 'task-1', status: 'working', message: 'step 1 of 3' });
    expect(await screen.findByText('Task task-1: working · step 1 of 3')).toHaveAttribute('role', 'status');
    finish({ call_id: 'call-1', server: 'ev', tool: 'trigger-long-running-operation', outcome: 'ok', error: null, result: { content: [] }, duration_ms: 5, duration_us: 5000 });
    await screen.findByRole('region', { name: 'Result' });
  });

  it('remembers from the history that a tool requires a task', async () => {
    const past = {
      call_id: 'old', server: 'ev', tool: 'echo', arguments: { message: 'x' }, result: null, arguments_cut: false,
      error: 'MCP error -32601: Tool echo requires task augmentation (taskSupport: \'required\')',
      outcome: 'failed', started_at_ms: 0, duration_ms: 5,
    };
    await setup({ history: () => [past] });
    await screen.findByRole('list', { name: 'Earlier calls' });
    await userEvent.setup().click(await within(screen.getByRole('list', { name: 'Tools' })).findByRole('button', { name: /echo/ }));
    expect(screen.getByRole('checkbox', { name: 'Run as a task' })).toBeChecked();
  });
});
