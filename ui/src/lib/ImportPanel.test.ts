import { render, screen } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';
import { fakeBackend } from '../test/ipc';
import ImportPanel from './ImportPanel.svelte';

const plan = {
  servers: [
    { name: 'fs', transport: { type: 'stdio', command: 'npx', args: ['-y', 'server-fs'], env: {}, cwd: null }, enabled: true, request_timeout_secs: 60 },
    { name: 'remote', transport: { type: 'http', url: 'https://x.example/mcp', headers: {} }, enabled: true, request_timeout_secs: 60 },
  ],
  warnings: ['server "gh": ${input:token} is not resolved; fill it in after the import'],
};

describe('import', () => {
  it('previews what a picked file would add, adds nothing until asked, then adds that file', async () => {
    const backend = fakeBackend({
      pick_import_file: () => '/home/me/claude_desktop_config.json',
      preview_import: () => plan,
      import_servers: () => plan,
    });
    const onimported = vi.fn();
    render(ImportPanel, { onimported, oncancel: () => {} });
    const user = userEvent.setup();
    await user.click(screen.getByRole('button', { name: 'Choose file…' }));
    const list = await screen.findByRole('list', { name: 'Servers to import' });
    expect(list).toHaveTextContent('fs');
    expect(list).toHaveTextContent('https://x.example/mcp');
    expect(screen.getByText(/is not resolved/)).toBeInTheDocument();
    expect(backend.calls.some((c) => c.cmd === 'import_servers')).toBe(false);
    await user.click(screen.getByRole('button', { name: 'Add 2' }));
    expect(backend.calls.find((c) => c.cmd === 'import_servers')?.args).toEqual({ path: '/home/me/claude_desktop_config.json' });
    expect(onimported).toHaveBeenCalled();
  });

  it('shows why a file cannot be read, and a changed path needs a new preview', async () => {
    fakeBackend({
      preview_import: (args) => {
        if (String(args.path).endsWith('bad.json')) throw { message: 'bad.json line 3, column 5: expected a value' };
        return plan;
      },
    });
    render(ImportPanel, { onimported: () => {}, oncancel: () => {} });
    const user = userEvent.setup();
    const path = screen.getByLabelText('Configuration file');
    await user.type(path, '/tmp/good.json');
    await user.click(screen.getByRole('button', { name: 'Preview' }));
    await screen.findByRole('button', { name: 'Add 2' });
    await user.type(path, 'x');
    expect(screen.queryByRole('button', { name: 'Add 2' })).toBeNull();
    await user.clear(path);
    await user.type(path, '/tmp/bad.json');
    await user.click(screen.getByRole('button', { name: 'Preview' }));
    expect(await screen.findByRole('alert')).toHaveTextContent('line 3, column 5');
  });
});
