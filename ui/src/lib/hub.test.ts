import { describe, expect, it, vi } from 'vitest';
import { fakeBackend, stdioServer } from '../test/ipc';
import { HubStore } from './hub.svelte';

describe('HubStore', () => {
  it('never lets a listing that was asked for earlier overwrite a newer state event', async () => {
    let answer: (v: unknown) => void = () => {};
    let listed = 0;
    const backend = fakeBackend({
      list_servers: () => {
        listed++;
        // The first listing answers at once; the second one is held back.
        if (listed === 1) return [stdioServer('a', { state: 'connecting' })];
        return new Promise((resolve) => (answer = resolve));
      },
    });
    const hub = new HubStore();
    await hub.start();
    const slow = hub.reload(); // asked for while 'a' was still connecting...
    backend.emit({ event: 'state', server: 'a', state: 'connected' }); // ...then it connected
    expect(hub.server('a')?.state).toEqual({ state: 'connected' });
    answer([stdioServer('a', { state: 'connecting' })]); // the stale listing arrives late
    await slow;
    expect(hub.server('a')?.state).toEqual({ state: 'connected' });
  });

  it('keeps each call’s newest progress and a bounded log, and its outcome', async () => {
    const backend = fakeBackend({ list_servers: () => [stdioServer('a')] });
    const hub = new HubStore();
    await hub.start();
    hub.track('c1', 'a', 'slow');
    for (let i = 1; i <= 600; i++) {
      backend.emit({ event: 'progress', server: 'a', call_id: 'c1', progress: i, total: 600, message: null });
    }
    backend.emit({ event: 'call_finished', server: 'a', call_id: 'c1', outcome: 'ok', duration_ms: 5 });
    const call = hub.calls.c1;
    expect([call.progress, call.total, call.outcome]).toEqual([600, 600, 'ok']);
    expect(call.log).toHaveLength(500);
    expect(call.log.at(-1)?.text).toBe('progress 600 of 600');
  });

  it('reads everything again when the channel says it fell behind', async () => {
    let listed = 0;
    const backend = fakeBackend({ list_servers: () => (listed++, [stdioServer('a')]) });
    const hub = new HubStore();
    await hub.start();
    expect(listed).toBe(1);
    // A lagged batch with nothing in it still triggers a full read.
    const { Channel } = await import('@tauri-apps/api/core');
    const sub = backend.calls.find((c) => c.cmd === 'subscribe')!.args.onEvent as InstanceType<typeof Channel>;
    sub.onmessage({ events: [], lagged: true });
    await new Promise((r) => setTimeout(r, 0));
    expect(listed).toBe(2);
  });

  it('lists again when a server connects, so what it spoke this time replaces last time’s', async () => {
    let listed = 0;
    const backend = fakeBackend({
      list_servers: () => {
        listed++;
        const spoke = listed === 1
          ? { era: 'session', protocol_version: '2025-11-25', remembered: true }
          : { era: 'stateless', protocol_version: '2026-07-28', remembered: false };
        return [{ ...stdioServer('a', { state: listed === 1 ? 'disconnected' : 'connected' }), spoke }];
      },
    });
    const hub = new HubStore();
    await hub.start();
    expect(hub.server('a')?.spoke?.remembered).toBe(true);
    backend.emit({ event: 'state', server: 'a', state: 'connecting' });
    await new Promise((r) => setTimeout(r, 0));
    expect(listed).toBe(1);
    backend.emit({ event: 'state', server: 'a', state: 'connected' });
    await vi.waitFor(() => expect(hub.server('a')?.spoke).toEqual({ era: 'stateless', protocol_version: '2026-07-28', remembered: false }));
    expect(listed).toBe(2);
  });
});
