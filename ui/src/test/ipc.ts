// A stand-in for the backend in component tests: Tauri's own mockIPC, answering commands from a
// table and letting a test push event batches through the real Channel the app subscribed with.
import { mockIPC } from '@tauri-apps/api/mocks';
import type { Channel } from '@tauri-apps/api/core';
import type { EventBatch } from '../lib/bindings/EventBatch';
import type { HubEvent } from '../lib/bindings/HubEvent';
import type { ServerView } from '../lib/bindings/ServerView';

export type Handler = (args: Record<string, unknown>) => unknown;

export interface FakeBackend {
  calls: { cmd: string; args: Record<string, unknown> }[];
  emit(...events: HubEvent[]): void;
  subscribed(): boolean;
}

export function fakeBackend(handlers: Record<string, Handler>): FakeBackend {
  let channel: Channel<EventBatch> | undefined;
  const calls: FakeBackend['calls'] = [];
  mockIPC((cmd, payload) => {
    const args = (payload ?? {}) as Record<string, unknown>;
    calls.push({ cmd, args });
    if (cmd === 'subscribe') {
      channel = args.onEvent as Channel<EventBatch>;
      return null;
    }
    const handler = handlers[cmd];
    if (!handler) throw new Error(`no fake for command ${cmd}`);
    return handler(args);
  });
  return {
    calls,
    emit(...events) {
      if (!channel) throw new Error('the app has not subscribed yet');
      channel.onmessage({ events, lagged: false });
    },
    subscribed: () => channel !== undefined,
  };
}

export function stdioServer(name: string, state: ServerView['state'] = { state: 'connected' }): ServerView {
  return {
    name,
    state,
    login: { state: 'none' },
    spoke: null,
    enabled: true,
    request_timeout_secs: 60,
    transport: { type: 'stdio', command: 'node', args: ['server.js'], env: {}, cwd: null },
  };
}
