import { render, screen } from '@testing-library/svelte';
import { describe, expect, it } from 'vitest';
import { fakeBackend, stdioServer } from '../test/ipc';
import Details from './Details.svelte';
import { HubStore } from './hub.svelte';

// What the handshake negotiated, in MCP's own shape, and which era that was.
function details(era: 'stateless' | 'session', version: string) {
  return {
    name: 'v2',
    state: { state: 'connected' },
    initialize: { protocolVersion: version, capabilities: { tools: {}, logging: {} }, serverInfo: { name: 'srv', version: '1' } },
    spoke: { era, protocol_version: version, remembered: false },
    pid: null,
    log: [],
  };
}

async function shown(era: 'stateless' | 'session', version: string) {
  fakeBackend({
    list_servers: () => [stdioServer('v2')],
    server_details: () => details(era, version),
    list_roots: () => [],
    notifications: () => [],
  });
  const hub = new HubStore();
  await hub.start();
  render(Details, { hub, server: 'v2' });
}

describe('details by protocol era', () => {
  it('a 2026-07-28 server: the revision and how it started, a round trip instead of ping, no log level', async () => {
    await shown('stateless', '2026-07-28');
    expect(await screen.findByText('2026-07-28 · stateless (server/discover)')).toBeTruthy();
    expect(screen.getByRole('button', { name: 'Round trip' })).toBeTruthy();
    expect(screen.queryByRole('button', { name: 'Ping' })).toBeNull();
    expect(screen.queryByLabelText('Log level')).toBeNull();
    expect(screen.getByText(/removed setting it/)).toBeTruthy();
  });

  it('a 2025-era server keeps ping and the log level', async () => {
    await shown('session', '2025-11-25');
    expect(await screen.findByText('2025-11-25 · a session (initialize)')).toBeTruthy();
    expect(screen.getByRole('button', { name: 'Ping' })).toBeTruthy();
    expect(screen.getByLabelText('Log level')).toBeTruthy();
  });

  it('not connected in this run: what it spoke last time', async () => {
    fakeBackend({
      list_servers: () => [{ ...stdioServer('v2', { state: 'disconnected' }), spoke: { era: 'stateless', protocol_version: '2026-07-28', remembered: true } }],
      server_details: () => ({ name: 'v2', state: { state: 'disconnected' }, initialize: null, spoke: null, pid: null, log: [] }),
      list_roots: () => [],
      notifications: () => [],
    });
    const hub = new HubStore();
    await hub.start();
    render(Details, { hub, server: 'v2' });
    expect(await screen.findByText('Last time it spoke MCP 2026-07-28 · stateless (server/discover).')).toBeTruthy();
  });
});
