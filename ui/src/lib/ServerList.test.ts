import { render, screen, within } from '@testing-library/svelte';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';
import { fakeBackend, stdioServer, type Handler } from '../test/ipc';
import { MASK } from './bindings/Mask';
import type { LaunchPlan } from './bindings/LaunchPlan';
import type { ServerView } from './bindings/ServerView';
import { HubStore } from './hub.svelte';
import ServerList from './ServerList.svelte';

function setup(servers = [stdioServer('alpha'), { ...stdioServer('beta', { state: 'needs_auth' }), transport: { type: 'http' as const, url: 'https://x.example/mcp', headers: {} } }]) {
  const backend = fakeBackend({
    list_servers: () => servers,
    reconnect: () => null,
    // A login that waits for the browser until the test ends.
    login: () => new Promise(() => {}),
    cancel_login: () => true,
    set_enabled: () => null,
  });
  const hub = new HubStore();
  render(ServerList, { hub, selected: null, onadd: () => {}, onedit: () => {} });
  return { backend, hub };
}

describe('the server list', () => {
  it('shows every server with its state in words, not colour alone', async () => {
    const { hub } = setup();
    await hub.start();
    const alpha = await screen.findByRole('button', { name: /alpha/ });
    expect(alpha).toHaveTextContent('Connected');
    expect(screen.getByRole('button', { name: /beta/ })).toHaveTextContent('Needs login');
    // Buttons follow the state: a server that needs a login offers "Log in".
    const beta = screen.getByRole('group', { name: 'Actions for beta' });
    expect(within(beta).getByRole('button', { name: 'Log in' })).toBeInTheDocument();
    expect(within(screen.getByRole('group', { name: 'Actions for alpha' })).queryByRole('button', { name: 'Log in' })).toBeNull();
  });

  it('keeps each row short: one action the state calls for, the rest behind More', async () => {
    const { hub } = setup();
    await hub.start();
    const alpha = await screen.findByRole('group', { name: 'Actions for alpha' });
    // Connected: nothing calls for action, so only More.
    expect(within(alpha).getAllByRole('button').map((b) => b.textContent)).toEqual(['⋯']);
    const beta = screen.getByRole('group', { name: 'Actions for beta' });
    expect(within(beta).getAllByRole('button').map((b) => b.getAttribute('aria-label') ?? b.textContent)).toEqual(['Log in', 'More actions']);
    const user = userEvent.setup();
    const more = within(alpha).getByRole('button', { name: 'More actions' });
    expect(more).toHaveAttribute('aria-expanded', 'false');
    await user.click(more);
    expect(more).toHaveAttribute('aria-expanded', 'true');
    expect(within(alpha).getAllByRole('button').map((b) => b.textContent)).toEqual(['⋯', 'Reconnect', 'Disable', 'Edit', 'Remove']);
    // One row's menu at a time.
    await user.click(within(beta).getByRole('button', { name: 'More actions' }));
    expect(more).toHaveAttribute('aria-expanded', 'false');
  });

  it('changes a badge live as state events arrive, with the error and when it retries', async () => {
    const { backend, hub } = setup();
    await hub.start();
    await screen.findByRole('button', { name: /alpha/ });
    backend.emit({ event: 'state', server: 'alpha', state: 'connecting' });
    await vi.waitFor(() => expect(screen.getByRole('button', { name: /alpha/ })).toHaveTextContent('Connecting…'));
    backend.emit({ event: 'state', server: 'alpha', state: 'error', message: 'server exited with status 1', retry_at_ms: Date.now() + 4000 });
    await vi.waitFor(() => expect(screen.getByRole('button', { name: /alpha/ })).toHaveTextContent('Error'));
    // The reason is announced once; the countdown beside it ticks without re-announcing.
    // One plain sentence, and when it tries again.
    expect(screen.getByRole('alert')).toHaveTextContent(/^The server exited with status 1 — its output is under Details\.$/);
    expect(screen.getByRole('alert').closest('.detail')).toHaveTextContent(/retrying in [34] s/);
  });

  it('sends each click on Reconnect to the engine, which starts one attempt for a burst', async () => {
    const { backend, hub } = setup();
    await hub.start();
    const group = await screen.findByRole('group', { name: 'Actions for alpha' });
    const user = userEvent.setup();
    await user.click(within(group).getByRole('button', { name: 'More actions' }));
    for (let i = 0; i < 5; i++) await user.click(within(group).getByRole('button', { name: 'Reconnect' }));
    expect(backend.calls.filter((c) => c.cmd === 'reconnect').map((c) => c.args.name)).toEqual(Array(5).fill('alpha'));
  });

  it('shows a login waiting for the browser, with its link and a way to cancel', async () => {
    const { backend, hub } = setup();
    await hub.start();
    await screen.findByRole('button', { name: /beta/ });
    backend.emit({ event: 'login_url', server: 'beta', url: 'https://as.example/authorize?x=1' });
    const status = await screen.findByText('Waiting for the browser…');
    expect(status).toBeInTheDocument();
    await userEvent.setup().click(screen.getByRole('button', { name: 'Cancel login' }));
    expect(backend.calls.some((c) => c.cmd === 'cancel_login' && c.args.name === 'beta')).toBe(true);
    backend.emit({ event: 'login_finished', server: 'beta', ok: false, message: 'the login was cancelled' });
    await screen.findByText(/Login failed: the login was cancelled/);
    // And the person can try again.
    const again = within(screen.getByRole('group', { name: 'Actions for beta' })).getByRole('button', { name: 'Log in' });
    await userEvent.setup().click(again);
    expect(backend.calls.filter((c) => c.cmd === 'login')).toHaveLength(1);
    expect(screen.getByText('Waiting for the browser…')).toBeInTheDocument();
    expect(within(screen.getByRole('group', { name: 'Actions for beta' })).queryByRole('button', { name: 'Log in' })).toBeNull();
  });

  describe('an imported local server that has not started', () => {
    const imported: ServerView = {
      ...stdioServer('fs', { state: 'disconnected' }),
      enabled: false,
      needs_review: true,
      transport: { type: 'stdio', command: 'npx', args: ['-y', 'server-fs'], env: { API_KEY: MASK, PATH: '/opt/evil/bin' }, cwd: null },
    };
    const plan = (reveal: boolean): LaunchPlan => ({
      server: 'fs',
      command: 'npx',
      args: ['-y', 'server-fs'],
      env: [
        { name: 'API_KEY', value: reveal ? 'sk-live-42' : MASK, changes_what_runs: false },
        { name: 'PATH', value: '/opt/evil/bin', changes_what_runs: true },
      ],
      cwd: null,
      warnings: ['PATH changes which code runs or how; make sure you expect PATH=/opt/evil/bin'],
      inherits: "It also gets Patchbay's own environment, without Patchbay's own PATCHBAY_* variables.",
      digest: 'plan-digest-1',
    });

    function reviewSetup(extra: Record<string, Handler> = {}) {
      let servers = [imported];
      const backend = fakeBackend({
        list_servers: () => servers,
        launch_plan: (args) => plan(args.reveal === true),
        confirm_launch: () => {
          servers = [{ ...imported, enabled: true, needs_review: false, state: { state: 'connecting' } }];
          return null;
        },
        ...extra,
      });
      const hub = new HubStore();
      render(ServerList, { hub, selected: null, onadd: () => {}, onedit: () => {} });
      return { backend, hub, user: userEvent.setup() };
    }

    it('says so and offers "Review and start" instead of Enable', async () => {
      const { hub } = reviewSetup();
      await hub.start();
      const group = await screen.findByRole('group', { name: 'Actions for fs' });
      expect(screen.getByText(/Imported, not started yet/)).toBeInTheDocument();
      expect(within(group).getByRole('button', { name: 'Review and start' })).toBeInTheDocument();
      expect(within(group).queryByRole('button', { name: 'Enable' })).toBeNull();
    });

    it('shows everything it runs in a dialog, values on request, and starts it only on "Start it"', async () => {
      const { backend, hub, user } = reviewSetup();
      await hub.start();
      const review = within(await screen.findByRole('group', { name: 'Actions for fs' })).getByRole('button', { name: 'Review and start' });
      await user.click(review);
      const dialog = await screen.findByRole('dialog', { name: 'Review fs before it starts' });
      expect(backend.calls.find((c) => c.cmd === 'launch_plan')?.args).toEqual({ name: 'fs', reveal: false });
      // Focus is in the dialog, on the way out that starts nothing.
      expect(within(dialog).getByRole('button', { name: 'Not now' })).toHaveFocus();
      expect(await within(dialog).findByText('npx -y server-fs')).toBeInTheDocument();
      expect(within(dialog).getByText('Patchbay’s working directory')).toBeInTheDocument();
      const env = within(dialog).getByRole('table', { name: 'Environment of fs' });
      expect(within(env).getByRole('row', { name: /API_KEY/ })).toHaveTextContent('hidden');
      expect(within(env).getByRole('row', { name: /^PATH/ })).toHaveTextContent(/\/opt\/evil\/bin.*Changes which code runs/);
      expect(within(dialog).getByRole('list', { name: 'Warnings about fs' })).toHaveTextContent('make sure you expect PATH=/opt/evil/bin');
      expect(within(dialog).getByText(/It also gets Patchbay's own environment/)).toBeInTheDocument();

      await user.click(within(dialog).getByRole('button', { name: 'Show values' }));
      expect(backend.calls.filter((c) => c.cmd === 'launch_plan').map((c) => c.args)).toContainEqual({ name: 'fs', reveal: true });
      expect(await within(dialog).findByText('sk-live-42')).toBeInTheDocument();
      expect(backend.calls.some((c) => c.cmd === 'confirm_launch' || c.cmd === 'set_enabled')).toBe(false);

      await user.click(within(dialog).getByRole('button', { name: 'Start it' }));
      expect(backend.calls.filter((c) => c.cmd === 'confirm_launch').map((c) => c.args)).toEqual([{ name: 'fs', digest: 'plan-digest-1' }]);
      await vi.waitFor(() => expect(screen.queryByRole('dialog')).toBeNull());
      // Started: the list shows it as any other server, and focus is back on it.
      await vi.waitFor(() => expect(screen.getByRole('button', { name: /fs/ })).toHaveTextContent('Connecting…'));
      expect(screen.queryByRole('button', { name: 'Review and start' })).toBeNull();
      expect(screen.getByRole('button', { name: /fs/ })).toHaveFocus();
    });

    it('starts nothing when the dialog is closed, and gives focus back to its button', async () => {
      const { backend, hub, user } = reviewSetup();
      await hub.start();
      const review = within(await screen.findByRole('group', { name: 'Actions for fs' })).getByRole('button', { name: 'Review and start' });
      await user.click(review);
      await screen.findByRole('dialog');
      await user.keyboard('{Escape}');
      expect(screen.queryByRole('dialog')).toBeNull();
      expect(review).toHaveFocus();
      expect(backend.calls.some((c) => c.cmd === 'confirm_launch')).toBe(false);
    });
  });

  it('shows a definition it cannot read with its reason, offering only Remove', async () => {
    const broken: ServerView = {
      ...stdioServer('future', { state: 'disconnected' }),
      enabled: false,
      transport: { type: 'unreadable', reason: 'written by a newer Patchbay (format 3)' },
    };
    const { hub } = setup([broken, stdioServer('alpha')]);
    await hub.start();
    const group = await screen.findByRole('group', { name: 'Actions for future' });
    expect(screen.getByRole('button', { name: /future/ })).toHaveTextContent('Unreadable');
    expect(screen.getByText(/written by a newer Patchbay \(format 3\)/)).toBeInTheDocument();
    expect(within(group).getAllByRole('button').map((b) => b.textContent)).toEqual(['Remove']);
  });

  it('shows that a remote server needs a login, why, and Log in, before its connection says so', async () => {
    const refused: ServerView = {
      ...stdioServer('gh', { state: 'connected' }),
      transport: { type: 'http', url: 'https://gh.example/mcp', headers: {} },
      login: { state: 'needs_login', reason: 'the authorization server refused the saved login' },
    };
    const { backend, hub } = setup([refused]);
    await hub.start();
    const group = await screen.findByRole('group', { name: 'Actions for gh' });
    expect(screen.getByText('Needs a new login: the authorization server refused the saved login')).toBeInTheDocument();
    await userEvent.setup().click(within(group).getByRole('button', { name: 'Log in' }));
    expect(backend.calls.filter((c) => c.cmd === 'login').map((c) => c.args)).toEqual([{ name: 'gh' }]);
  });
});
