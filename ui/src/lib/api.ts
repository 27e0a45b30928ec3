// The one door from the window to the backend: every Tauri command, typed with the Rust types
// (generated into ./bindings by ts-rs). Components never call `invoke` themselves.
import { Channel, invoke } from '@tauri-apps/api/core';
import type { AuthStatus } from './bindings/AuthStatus';
import type { CallReport } from './bindings/CallReport';
import type { Doctor } from './bindings/Doctor';
import type { EventBatch } from './bindings/EventBatch';
import type { Export } from './bindings/Export';
import type { ImportPreview } from './bindings/ImportPreview';
import type { LaunchPlan } from './bindings/LaunchPlan';
import type { LogoutReport } from './bindings/LogoutReport';
import type { Notice } from './bindings/Notice';
import type { Page } from './bindings/Page';
import type { PastCall } from './bindings/PastCall';
import type { Preview } from './bindings/Preview';
import type { RootDef } from './bindings/RootDef';
import type { ServerDef } from './bindings/ServerDef';
import type { ServerDetails } from './bindings/ServerDetails';
import type { ServerView } from './bindings/ServerView';
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
  /** Engine events, one frame per message, in order. Subscribe before reading state. */
  subscribe(onBatch: (batch: EventBatch) => void): Promise<void> {
    const channel = new Channel<EventBatch>();
    channel.onmessage = onBatch;
    return invoke('subscribe', { onEvent: channel });
  },
  listServers: () => invoke<ServerView[]>('list_servers'),
  serverDetails: (name: string) => invoke<ServerDetails>('server_details', { name }),
  /** What the server sent this session besides answers (all but progress), oldest first. */
  notifications: (name: string) => invoke<Notice[]>('notifications', { name }),
  addServer: (def: ServerDef, clientSecret?: string) =>
    invoke<void>('add_server', { def, clientSecret: clientSecret || null }),
  /** An env or header value sent back as `MASK` keeps the stored one; any other replaces it. */
  updateServer: (def: ServerDef) => invoke<void>('update_server', { def }),
  /** The definition with its env and header values shown: only when the person asks to see them. */
  revealServer: (name: string) => invoke<ServerDef>('reveal_server', { name }),
  /** What a local server runs (values masked unless `reveal`, except those that change what runs). */
  launchPlan: (name: string, reveal: boolean) => invoke<LaunchPlan>('launch_plan', { name, reveal }),
  /** The person has read what an imported local server runs and says start it: enabled and started. */
  /** The person's yes to the plan with `digest` (from launchPlan); refused if it has changed since. */
  confirmLaunch: (name: string, digest: string) => invoke<void>('confirm_launch', { name, digest }),
  setEnabled: (name: string, enabled: boolean) => invoke<void>('set_enabled', { name, enabled }),
  removeServer: (name: string) => invoke<void>('remove_server', { name }),
  connect: (name: string) => invoke<void>('connect', { name }),
  reconnect: (name: string) => invoke<void>('reconnect', { name }),
  disconnect: (name: string) => invoke<void>('disconnect', { name }),
  login: (name: string) => invoke<AuthStatus>('login', { name }),
  cancelLogin: (name: string) => invoke<boolean>('cancel_login', { name }),
  logout: (name: string) => invoke<LogoutReport>('logout', { name }),
  authStatus: (name: string) => invoke<AuthStatus>('auth_status', { name }),
  listTools: (name: string) => invoke<Tool[]>('list_tools', { name }),
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
    return invoke<CallReport>('call_tool', { server, tool, arguments: args, task, onStarted: started });
  },
  cancelCall: (callId: string) => invoke<boolean>('cancel_call', { callId }),
  /** Past calls, newest first, without their results (see `saveCallResult`). */
  history: (name: string, limit = 50) => invoke<PastCall[]>('history', { name, limit }),
  /** Saves a past call's whole result where the person chooses; the path, or null if they closed the dialog. */
  saveCallResult: (callId: string, fileName: string) => invoke<string | null>('save_call_result', { callId, fileName }),
  pickImportFile: () => invoke<string | null>('pick_import_file'),
  /** Reads a config file once and keeps what it would add, under an id; stores nothing. Values masked. */
  previewImport: (path: string) => invoke<ImportPreview>('preview_import', { path }),
  /** The same preview with its env and header values shown (the person clicked "Show values"). */
  revealImport: (id: string) => invoke<ImportPreview>('reveal_import', { id }),
  /**
   * Adds exactly the previewed import: without `start`, every server turned off and local ones
   * waiting for review; with `start` (the person has read what each runs), as the file has them,
   * started. What was added comes back, masked.
   */
  importServers: (id: string, start: boolean) => invoke<ServerDef[]>('import_servers', { id, start }),
  /** Every server in Claude Desktop's shape; env and header values only with `includeSecrets`. */
  exportServers: (includeSecrets: boolean) => invoke<Export>('export_servers', { includeSecrets }),
  doctor: () => invoke<Doctor>('doctor'),
  /**
   * Answers a server's question (elicitation); false when it is no longer open. Accepting a
   * question with a link (URL mode) opens it in the browser.
   */
  answerElicitation: (
    server: string,
    id: string,
    action: 'accept' | 'decline' | 'cancel',
    content?: Record<string, JsonValue>,
  ) => invoke<boolean>('answer_elicitation', { server, id, action, content: content ?? null }),
  /** Approves `reply` as the answer to a server's sampling request, or rejects it (null). */
  answerSampling: (server: string, id: string, reply: string | null) =>
    invoke<boolean>('answer_sampling', { server, id, reply }),
  /** One page of a server's resources, resource templates or prompts (MCP's own JSON). */
  listCatalog: (name: string, what: 'resources' | 'templates' | 'prompts', cursor?: string) =>
    invoke<Page>('list_catalog', { name, what, cursor: cursor ?? null }),
  /** A resource's contents (MCP's ReadResourceResult), shortened if huge: `cut` says so. */
  readResource: (name: string, uri: string) => invoke<Preview>('read_resource', { name, uri }),
  /** Reads a resource afresh and saves it (decoded) where the person chooses; the path, or null. */
  saveResource: (name: string, uri: string, fileName: string) => invoke<string | null>('save_resource', { name, uri, fileName }),
  /** Subscribes to a resource's updates (`resource_updated` events), or stops. */
  subscribeResource: (name: string, uri: string, on: boolean) => invoke<void>('subscribe_resource', { name, uri, on }),
  completeTemplate: (name: string, uriTemplate: string, argument: string, typed: string) =>
    invoke<string[]>('complete_template', { name, uriTemplate, argument, typed }),
  getPrompt: (name: string, prompt: string, args: Record<string, string>) =>
    invoke<JsonValue>('get_prompt', { name, prompt, arguments: args }),
  complete: (name: string, prompt: string, argument: string, typed: string) =>
    invoke<string[]>('complete', { name, prompt, argument, typed }),
  /** Round trip in milliseconds. */
  ping: (name: string) => invoke<number>('ping', { name }),
  setLogLevel: (name: string, level: string) => invoke<void>('set_log_level', { name, level }),
  /** A native folder picker; null when the person closed it. */
  pickFolder: () => invoke<string | null>('pick_folder'),
  /** Adds a folder (an absolute path) to a server's roots; the new list comes back. */
  addRoot: (name: string, folder: string) => invoke<RootDef[]>('add_root', { name, folder }),
  removeRoot: (name: string, uri: string) => invoke<RootDef[]>('remove_root', { name, uri }),
  /** Tells the backend the first server list is on screen (for the startup figure). */
  uiPainted: (servers: number) => invoke<void>('ui_painted', { servers }),
};
