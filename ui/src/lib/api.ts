// The one door from the window to the backend. Every command is generated, typed from its Rust
// signature, into ./commands.ts (by src-tauri/build.rs); the few below add a convenience on top
// (a Channel made for the caller, a default, MCP's own tool shape). Components never call
// `invoke` themselves.
import { Channel } from '@tauri-apps/api/core';
import { commands } from './commands';
import type { CallReport } from './bindings/CallReport';
import type { EventBatch } from './bindings/EventBatch';
import type { ServerDef } from './bindings/ServerDef';
import type { JsonValue } from './bindings/serde_json/JsonValue';

/** A failed command: `field` names the form field a validation error is about. */
export interface CommandError {
  message: string;
  field?: string;
}

export function errorMessage(e: unknown): string {
  if (e && typeof e === 'object' && 'message' in e) return String((e as CommandError).message);
  return String(e);
}

/** An MCP tool as the server lists it. (MCP's own shape, not one of ours.) */
export interface Tool {
  name: string;
  title?: string;
  description?: string;
  inputSchema: Record<string, unknown>;
  annotations?: Record<string, unknown>;
}

export const api = {
  ...commands,
  /** Engine events, one frame per message, in order. Subscribe before reading state. */
  subscribe(onBatch: (batch: EventBatch) => void): Promise<void> {
    const channel = new Channel<EventBatch>();
    channel.onmessage = onBatch;
    return commands.subscribe(channel);
  },
  /** An empty client secret means none. */
  addServer: (def: ServerDef, clientSecret?: string) => commands.addServer(def, clientSecret || null),
  listTools: (name: string) => commands.listTools(name) as Promise<unknown> as Promise<Tool[]>,
  /**
   * Runs a tool (as a task when `task`); `onStarted` gets the call id at once (for cancel,
   * progress and task status).
   */
  callTool(
    server: string,
    tool: string,
    args: Record<string, JsonValue> | null,
    onStarted: (callId: string) => void,
    task = false,
  ): Promise<CallReport> {
    const started = new Channel<string>();
    started.onmessage = onStarted;
    return commands.callTool(server, tool, args, task, started);
  },
  /** Past calls, newest first, without their results (see `saveCallResult`). */
  history: (name: string, limit = 50) => commands.history(name, limit),
};
