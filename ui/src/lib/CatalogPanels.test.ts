import { render, screen } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';
import { type FakeBackend, fakeBackend, stdioServer } from '../test/ipc';
import { HubStore } from './hub.svelte';
import PromptsPanel from './PromptsPanel.svelte';
import ResourcesPanel from './ResourcesPanel.svelte';

describe('resources', () => {
  it('lists a page at a time and previews text, JSON and images by MIME type', async () => {
    const backend = fakeBackend({
      list_servers: () => [stdioServer('ev')],
      list_catalog: (args) => {
        if (args.what === 'templates' && args.cursor === 't2') return { items: [{ uriTemplate: 'demo://y/{id}', name: 'u' }], next_cursor: null };
        if (args.what === 'templates') return { items: [{ uriTemplate: 'demo://x/{id}', name: 't' }], next_cursor: 't2' };
        if (args.cursor === 'p2') return { items: [{ uri: 'demo://c', name: 'C', mimeType: 'image/png' }], next_cursor: null };
        return { items: [{ uri: 'demo://a', name: 'A', mimeType: 'text/plain' }, { uri: 'demo://b', name: 'B', mimeType: 'application/json' }], next_cursor: 'p2' };
      },
      read_resource: (args) => ({
        value: {
          'demo://a': { contents: [{ uri: 'demo://a', mimeType: 'text/plain', text: 'x'.repeat(150_000) }] },
          'demo://b': { contents: [{ uri: 'demo://b', mimeType: 'application/json', text: '{"k":1}' }] },
          'demo://c': { contents: [{ uri: 'demo://c', mimeType: 'image/png', blob: 'iVBORw0KGgo=' }] },
        }[args.uri as string],
        cut: null,
      }),
    });
    const hub = new HubStore();
    await hub.start();
    render(ResourcesPanel, { hub, server: 'ev' });
    const user = userEvent.setup();
    await user.click(await screen.findByRole('button', { name: /^A/ }));
    const big = await screen.findByRole('article', { name: 'Contents of demo://a' });
    expect(big.querySelector('pre')!.textContent!.length).toBeLessThan(100_010); // cut for display
    await user.click(screen.getByRole('button', { name: /Show all 150000 characters/ }));
    expect(big.querySelector('pre')!.textContent!.length).toBe(150_000);
    await user.click(screen.getByRole('button', { name: /^B/ }));
    expect((await screen.findByRole('article', { name: 'Contents of demo://b' })).textContent).toContain('"k": 1');
    await user.click(screen.getByRole('button', { name: 'Load more' }));
    await user.click(await screen.findByRole('button', { name: /^C/ }));
    expect(await screen.findByRole('img', { name: 'Resource demo://c' })).toHaveAttribute('src', 'data:image/png;base64,iVBORw0KGgo=');
    expect(screen.queryByText(/This resource is/)).toBeNull(); // nothing was cut
    expect(screen.getByRole('list', { name: 'Resource templates' })).toHaveTextContent('demo://x/{id}');
    await user.click(screen.getByRole('button', { name: 'Load more templates' }));
    await vi.waitFor(() => expect(screen.getByRole('list', { name: 'Resource templates' })).toHaveTextContent('demo://y/{id}'));
    expect(screen.queryByRole('button', { name: 'Load more templates' })).toBeNull();
    // A list_changed for resources lists them again.
    const before = backend.calls.filter((c) => c.cmd === 'list_catalog').length;
    backend.emit({ event: 'list_changed', server: 'ev', list: 'resources' });
    await vi.waitFor(() => expect(backend.calls.filter((c) => c.cmd === 'list_catalog').length).toBeGreaterThan(before));
  });

  it('shows a small text blob as text, wraps URIs at their slashes, and clears the last resource when a template is picked', async () => {
    fakeBackend({
      list_servers: () => [stdioServer('ev')],
      list_catalog: (args) =>
        args.what === 'templates'
          ? { items: [{ uriTemplate: 'demo://x/{id}', name: 't' }], next_cursor: null }
          : { items: [{ uri: 'demo://resource/static/text/1', name: 'Blob', mimeType: 'text/plain' }], next_cursor: null },
      read_resource: () => ({
        // 'Hello, World! This is a plain text blob in base64.' — 51 bytes, sent as a blob.
        value: { contents: [{ uri: 'demo://resource/static/text/1', mimeType: 'text/plain', blob: btoa('Hello, World! This is a plain text blob in base64.') }] },
        cut: null,
      }),
    });
    const hub = new HubStore();
    await hub.start();
    render(ResourcesPanel, { hub, server: 'ev' });
    const user = userEvent.setup();
    const row = await screen.findByRole('button', { name: /^Blob/ });
    expect(row.querySelectorAll('wbr').length).toBeGreaterThan(2);
    await user.click(row);
    const article = await screen.findByRole('article', { name: 'Contents of demo://resource/static/text/1' });
    expect(article.querySelector('pre')).toHaveTextContent('Hello, World! This is a plain text blob in base64.');
    expect(article).not.toHaveTextContent('not previewed');
    expect(screen.getByRole('button', { name: 'Save to file…' })).toBeInTheDocument();
    await user.click(screen.getByRole('button', { name: /demo:\/\/x\/\{id\}/ }));
    expect(screen.queryByRole('button', { name: 'Save to file…' })).toBeNull();
    expect(screen.queryByRole('article')).toBeNull();
  });

  // server-everything's resources, as far as these tests need them.
  const DYNAMIC = 'demo://resource/dynamic/text/{resourceId}';
  const text = (uri: string, body: string) => ({ value: { contents: [{ uri, mimeType: 'text/plain', text: body }] }, cut: null });
  function everything(handlers: Parameters<typeof fakeBackend>[0] = {}, subscribe = true): FakeBackend {
    return fakeBackend({
      list_servers: () => [stdioServer('ev')],
      server_details: () => ({ name: 'ev', state: { state: 'connected' }, initialize: { capabilities: { resources: { subscribe } } }, pid: null, log: [] }),
      list_catalog: (args) =>
        args.what === 'templates'
          ? { items: [{ uriTemplate: DYNAMIC, name: 'Dynamic Text Resource' }, { uriTemplate: 'demo://search{?q,lang}', name: 'Search' }], next_cursor: null }
          : {
              items: [
                { uri: 'demo://resource/dynamic/text/1', name: 'Resource 1', mimeType: 'text/plain' },
                { uri: 'demo://resource/dynamic/text/2', name: 'Resource 2', mimeType: 'text/plain' },
              ],
              next_cursor: null,
            },
      read_resource: (args) => text(args.uri as string, `contents of ${String(args.uri)}`),
      subscribe_resource: () => null,
      ...handlers,
    });
  }
  async function open(backend: FakeBackend) {
    const hub = new HubStore();
    await hub.start();
    const view = render(ResourcesPanel, { hub, server: 'ev' });
    await screen.findByRole('button', { name: /^Resource 1/ });
    return { hub, view, backend, user: userEvent.setup() };
  }
  const callsOf = (backend: FakeBackend, cmd: string) => backend.calls.filter((c) => c.cmd === cmd).map((c) => c.args);

  it('says when the engine cut a huge resource, keeps Show all for what arrived, and does not show an emptied blob as an image', async () => {
    const cut = { total_bytes: 12_345_678, shown_bytes: 262_144 };
    const { user } = await open(
      everything({
        read_resource: (args) =>
          args.uri === 'demo://resource/dynamic/text/1'
            ? { value: { contents: [{ uri: args.uri, mimeType: 'text/plain', text: 'y'.repeat(150_000) }] }, cut }
            : { value: { contents: [{ uri: args.uri, mimeType: 'image/png', blob: '' }] }, cut },
      }),
    );
    await user.click(screen.getByRole('button', { name: /^Resource 1/ }));
    const article = await screen.findByRole('article', { name: 'Contents of demo://resource/dynamic/text/1' });
    expect(screen.getByText(/This resource is/)).toHaveTextContent('This resource is 12.3 MB; the window shows the first 262 kB of it.');
    expect(screen.getByText(/This resource is/)).toHaveAttribute('role', 'status');
    await user.click(screen.getByRole('button', { name: 'Show all 150000 characters' }));
    expect(article.querySelector('pre')!.textContent!.length).toBe(150_000);
    await user.click(screen.getByRole('button', { name: /^Resource 2/ }));
    const pic = await screen.findByRole('article', { name: 'Contents of demo://resource/dynamic/text/2' });
    expect(pic).toHaveTextContent(/too large to preview/i);
    expect(pic.querySelector('img')).toBeNull();
    expect(screen.queryByRole('img')).toBeNull();
    expect(screen.getByRole('button', { name: 'Save to file…' })).toBeEnabled();
  });

  it('saves the open resource where the person chooses, and says nothing when they close the dialog', async () => {
    const answers: (string | null | Error)[] = ['/home/me/1.txt', null, new Error('the disk is full')];
    const backend = everything({
      save_resource: () => {
        const next = answers.shift();
        if (next instanceof Error) throw next;
        return next;
      },
    });
    const { user } = await open(backend);
    await user.click(screen.getByRole('button', { name: /^Resource 1/ }));
    await screen.findByRole('article', { name: 'Contents of demo://resource/dynamic/text/1' });
    await user.click(screen.getByRole('button', { name: 'Save to file…' }));
    expect(callsOf(backend, 'save_resource')).toEqual([{ name: 'ev', uri: 'demo://resource/dynamic/text/1', fileName: '1.txt' }]);
    expect(await screen.findByText('Saved to /home/me/1.txt')).toHaveAttribute('role', 'status');
    await user.click(screen.getByRole('button', { name: 'Save to file…' }));
    await vi.waitFor(() => expect(callsOf(backend, 'save_resource')).toHaveLength(2));
    await vi.waitFor(() => expect(screen.queryByText(/Saved to/)).toBeNull());
    expect(screen.queryByRole('alert')).toBeNull();
    await user.click(screen.getByRole('button', { name: 'Save to file…' }));
    expect(await screen.findByRole('alert')).toHaveTextContent('the disk is full');
  });

  it('subscribes to the open resource, reads it again on its updates only, and unsubscribes', async () => {
    const backend = everything();
    const { user, view } = await open(backend);
    const reads = () => callsOf(backend, 'read_resource').length;
    await user.click(screen.getByRole('button', { name: /^Resource 1/ }));
    await screen.findByRole('article', { name: 'Contents of demo://resource/dynamic/text/1' });
    const toggle = await screen.findByRole('checkbox', { name: 'Subscribe to updates' });
    await user.click(toggle);
    expect(callsOf(backend, 'subscribe_resource')).toEqual([{ name: 'ev', uri: 'demo://resource/dynamic/text/1', on: true }]);
    expect(toggle).toBeChecked();

    const before = reads();
    backend.emit({ event: 'resource_updated', server: 'ev', uri: 'demo://resource/dynamic/text/1' });
    await vi.waitFor(() => expect(reads()).toBe(before + 1));
    expect(callsOf(backend, 'read_resource').at(-1)).toEqual({ name: 'ev', uri: 'demo://resource/dynamic/text/1' });
    expect(await screen.findByText(/^Updated at \d\d:\d\d:\d\d$/)).toHaveAttribute('role', 'status');

    backend.emit({ event: 'resource_updated', server: 'ev', uri: 'demo://resource/dynamic/text/2' });
    backend.emit({ event: 'resource_updated', server: 'other', uri: 'demo://resource/dynamic/text/1' });
    await new Promise((r) => setTimeout(r, 30));
    expect(reads()).toBe(before + 1);

    await user.click(toggle);
    await vi.waitFor(() => expect(callsOf(backend, 'subscribe_resource').at(-1)).toEqual({ name: 'ev', uri: 'demo://resource/dynamic/text/1', on: false }));
    expect(toggle).not.toBeChecked();
    backend.emit({ event: 'resource_updated', server: 'ev', uri: 'demo://resource/dynamic/text/1' });
    await new Promise((r) => setTimeout(r, 30));
    expect(reads()).toBe(before + 1);

    // Choosing another resource, or closing the panel, unsubscribes too.
    await user.click(toggle);
    await user.click(screen.getByRole('button', { name: /^Resource 2/ }));
    await vi.waitFor(() => expect(callsOf(backend, 'subscribe_resource').at(-1)).toEqual({ name: 'ev', uri: 'demo://resource/dynamic/text/1', on: false }));
    await screen.findByRole('article', { name: 'Contents of demo://resource/dynamic/text/2' });
    expect(screen.getByRole('checkbox', { name: 'Subscribe to updates' })).not.toBeChecked();
    await user.click(screen.getByRole('checkbox', { name: 'Subscribe to updates' }));
    view.unmount();
    await vi.waitFor(() => expect(callsOf(backend, 'subscribe_resource').at(-1)).toEqual({ name: 'ev', uri: 'demo://resource/dynamic/text/2', on: false }));
  });

  it('shows only the newest answer when updates are read out of order', async () => {
    let n = 0;
    const backend = everything({
      read_resource: async (args) => {
        const mine = ++n;
        if (mine === 2) await new Promise((r) => setTimeout(r, 60));
        return text(args.uri as string, `version ${mine}`);
      },
    });
    const { user } = await open(backend);
    await user.click(screen.getByRole('button', { name: /^Resource 1/ }));
    const article = await screen.findByRole('article', { name: 'Contents of demo://resource/dynamic/text/1' });
    await user.click(await screen.findByRole('checkbox', { name: 'Subscribe to updates' }));
    backend.emit({ event: 'resource_updated', server: 'ev', uri: 'demo://resource/dynamic/text/1' });
    await vi.waitFor(() => expect(n).toBe(2));
    backend.emit({ event: 'resource_updated', server: 'ev', uri: 'demo://resource/dynamic/text/1' });
    await vi.waitFor(() => expect(article).toHaveTextContent('version 3'));
    await new Promise((r) => setTimeout(r, 100));
    expect(article).toHaveTextContent('version 3');
  });

  it('offers no subscription when the server does not take them', async () => {
    const { user } = await open(everything({}, false));
    await user.click(screen.getByRole('button', { name: /^Resource 1/ }));
    await screen.findByRole('article', { name: 'Contents of demo://resource/dynamic/text/1' });
    await new Promise((r) => setTimeout(r, 20));
    expect(screen.queryByRole('checkbox', { name: 'Subscribe to updates' })).toBeNull();
  });

  it('fills a template with the server\'s suggestions and reads the URI it expands to', async () => {
    const backend = everything({
      complete_template: async (args) => {
        // The answer for "1" comes late, after the one for "12": it must not replace it.
        if (args.typed === '1') await new Promise((r) => setTimeout(r, 60));
        return ['1', '10', '12', '120'].filter((v) => v.startsWith(String(args.typed)));
      },
    });
    const { user } = await open(backend);
    await user.click(screen.getByRole('button', { name: /Dynamic Text Resource/ }));
    const input = screen.getByLabelText('resourceId');
    await user.type(input, '12');
    expect(callsOf(backend, 'complete_template')).toContainEqual({ name: 'ev', uriTemplate: DYNAMIC, argument: 'resourceId', typed: '12' });
    const options = () => [...document.querySelectorAll(`#${input.getAttribute('list')} option`)].map((o) => o.getAttribute('value'));
    await vi.waitFor(() => expect(options()).toEqual(['12', '120']));
    await new Promise((r) => setTimeout(r, 100));
    expect(options()).toEqual(['12', '120']);

    await user.click(screen.getByRole('button', { name: 'Read' }));
    expect(callsOf(backend, 'read_resource').at(-1)).toEqual({ name: 'ev', uri: 'demo://resource/dynamic/text/12' });
    expect(await screen.findByRole('article', { name: 'Contents of demo://resource/dynamic/text/12' })).toHaveTextContent('contents of demo://resource/dynamic/text/12');
    // A resource read from a template saves and subscribes like any other.
    expect(screen.getByRole('button', { name: 'Save to file…' })).toBeEnabled();
    await user.click(screen.getByRole('checkbox', { name: 'Subscribe to updates' }));
    expect(callsOf(backend, 'subscribe_resource').at(-1)).toEqual({ name: 'ev', uri: 'demo://resource/dynamic/text/12', on: true });

    // A simple {var} percent-encodes spaces and slashes.
    await user.clear(input);
    await user.type(input, 'a b/c');
    await user.keyboard('{Enter}');
    expect(callsOf(backend, 'read_resource').at(-1)).toEqual({ name: 'ev', uri: 'demo://resource/dynamic/text/a%20b%2Fc' });
    await vi.waitFor(() => expect(callsOf(backend, 'subscribe_resource').at(-1)).toEqual({ name: 'ev', uri: 'demo://resource/dynamic/text/12', on: false }));
  });

  it('gives a query template one input per variable', async () => {
    const backend = everything({ complete_template: () => [] });
    const { user } = await open(backend);
    await user.click(screen.getByRole('button', { name: /Search/ }));
    await user.type(screen.getByLabelText('q'), 'a b&c');
    await user.type(screen.getByLabelText('lang'), 'en');
    expect(screen.getByText('demo://search?q=a%20b%26c&lang=en')).toBeInTheDocument();
    await user.click(screen.getByRole('button', { name: 'Read' }));
    expect(callsOf(backend, 'read_resource').at(-1)).toEqual({ name: 'ev', uri: 'demo://search?q=a%20b%26c&lang=en' });
  });
});

describe('prompts', () => {
  it('suggests argument values as the person types, insists on required ones, and renders the messages', async () => {
    const backend = fakeBackend({
      list_servers: () => [stdioServer('ev')],
      list_catalog: () => ({
        items: [{ name: 'completable-prompt', arguments: [{ name: 'department', required: true }, { name: 'name' }] }],
        next_cursor: null,
      }),
      complete: (args) => ['Engineering', 'Sales', 'Support'].filter((d) => d.startsWith(String(args.typed))),
      get_prompt: (args) => ({
        messages: [{ role: 'user', content: { type: 'text', text: `Tell me about ${(args.arguments as Record<string, string>).department}` } }],
      }),
    });
    const hub = new HubStore();
    await hub.start();
    render(PromptsPanel, { hub, server: 'ev' });
    const user = userEvent.setup();
    await user.click(await screen.findByRole('button', { name: /completable-prompt/ }));
    await user.click(screen.getByRole('button', { name: 'Get prompt' }));
    expect(screen.getByRole('alert')).toHaveTextContent('required');
    expect(backend.calls.some((c) => c.cmd === 'get_prompt')).toBe(false);
    await user.type(screen.getByLabelText(/department/), 'S');
    await vi.waitFor(() => {
      const options = [...document.querySelectorAll('#parg-department-list option')].map((o) => o.getAttribute('value'));
      expect(options).toEqual(['Sales', 'Support']);
    });
    await user.type(screen.getByLabelText(/department/), 'ales');
    await user.click(screen.getByRole('button', { name: 'Get prompt' }));
    expect(backend.calls.find((c) => c.cmd === 'get_prompt')?.args).toEqual({ name: 'ev', prompt: 'completable-prompt', arguments: { department: 'Sales' } });
    expect(await screen.findByRole('list', { name: 'Prompt messages' })).toHaveTextContent('Tell me about Sales');
  });
});
