import { render, screen } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';
import { fakeBackend, stdioServer } from '../test/ipc';
import { HubStore } from './hub.svelte';
import PromptsPanel from './PromptsPanel.svelte';
import ResourcesPanel from './ResourcesPanel.svelte';

describe('resources', () => {
  it('lists a page at a time and previews text, JSON and images by MIME type', async () => {
    const backend = fakeBackend({
      list_servers: () => [stdioServer('ev')],
      list_catalog: (args) => {
        if (args.what === 'templates') return { items: [{ uriTemplate: 'demo://x/{id}', name: 't' }], next_cursor: null };
        if (args.cursor === 'p2') return { items: [{ uri: 'demo://c', name: 'C', mimeType: 'image/png' }], next_cursor: null };
        return { items: [{ uri: 'demo://a', name: 'A', mimeType: 'text/plain' }, { uri: 'demo://b', name: 'B', mimeType: 'application/json' }], next_cursor: 'p2' };
      },
      read_resource: (args) =>
        ({
          'demo://a': { contents: [{ uri: 'demo://a', mimeType: 'text/plain', text: 'x'.repeat(150_000) }] },
          'demo://b': { contents: [{ uri: 'demo://b', mimeType: 'application/json', text: '{"k":1}' }] },
          'demo://c': { contents: [{ uri: 'demo://c', mimeType: 'image/png', blob: 'iVBORw0KGgo=' }] },
        })[args.uri as string],
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
    expect(screen.getByRole('list', { name: 'Resource templates' })).toHaveTextContent('demo://x/{id}');
    // A list_changed for resources lists them again.
    const before = backend.calls.filter((c) => c.cmd === 'list_catalog').length;
    backend.emit({ event: 'list_changed', server: 'ev', list: 'resources' });
    await vi.waitFor(() => expect(backend.calls.filter((c) => c.cmd === 'list_catalog').length).toBeGreaterThan(before));
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
