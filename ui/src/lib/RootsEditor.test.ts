import { render, screen } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { fakeBackend, stdioServer } from '../test/ipc';
import type { RootDef } from './bindings/RootDef';
import { HubStore } from './hub.svelte';
import RootsEditor from './RootsEditor.svelte';

describe('roots', () => {
  it('adds a typed folder, shows the engine’s complaint beside the field, and removes one', async () => {
    let roots: RootDef[] = [{ uri: 'file:///home/me/alpha/', name: 'alpha' }];
    const backend = fakeBackend({
      list_servers: () => [{ ...stdioServer('ev'), roots }],
      add_root: (args) => {
        const folder = args.folder as string;
        if (!folder.startsWith('/')) throw { message: `server 'ev': roots ${folder} is not an absolute path; give the full path of the folder`, field: 'roots' };
        roots = [...roots, { uri: `file://${folder}/`, name: folder.split('/').pop()! }];
        return roots;
      },
      remove_root: (args) => {
        roots = roots.filter((r) => r.uri !== args.uri);
        return roots;
      },
    });
    const hub = new HubStore();
    await hub.start();
    render(RootsEditor, { hub, server: 'ev' });
    const user = userEvent.setup();

    const list = screen.getByRole('list', { name: 'Roots of ev' });
    expect(list).toHaveTextContent('alpha');
    expect(list).toHaveTextContent('/home/me/alpha/');

    const path = screen.getByRole('textbox', { name: 'Folder path' });
    await user.type(path, 'relative/dir{Enter}');
    expect(await screen.findByRole('alert')).toHaveTextContent('not an absolute path');
    expect(path).toHaveAttribute('aria-invalid', 'true');
    expect(roots).toHaveLength(1);

    await user.clear(path);
    await user.type(path, '/home/me/beta');
    await user.click(screen.getByRole('button', { name: 'Add' }));
    expect(await screen.findByRole('status')).toHaveTextContent('Added /home/me/beta.');
    expect(screen.getByRole('list', { name: 'Roots of ev' })).toHaveTextContent('beta');
    expect(path).toHaveValue('');
    expect(backend.calls.filter((c) => c.cmd === 'add_root').map((c) => c.args)).toEqual([
      { name: 'ev', folder: 'relative/dir' },
      { name: 'ev', folder: '/home/me/beta' },
    ]);

    await user.click(screen.getByRole('button', { name: 'Remove root alpha' }));
    expect(await screen.findByRole('status')).toHaveTextContent('Removed /home/me/alpha/.');
    expect(screen.getByRole('list', { name: 'Roots of ev' })).not.toHaveTextContent('alpha');
    expect(roots.map((r) => r.name)).toEqual(['beta']);
  });
});
