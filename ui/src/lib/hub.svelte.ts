// The window's live picture of the hub: servers with their state, running calls with their
// progress and log, pending logins. Fed by the event channel; re-read in full when the channel
// says it fell behind. Subscribe first, then read, so no event falls between the two.
import { api, errorMessage } from './api';
import type { CallOutcome } from './bindings/CallOutcome';
import type { EventBatch } from './bindings/EventBatch';
import type { HubEvent } from './bindings/HubEvent';
import type { Notice } from './bindings/Notice';
import type { ServerState } from './bindings/ServerState';
import type { ServerView } from './bindings/ServerView';
import type { JsonValue } from './bindings/serde_json/JsonValue';

export interface LogLine {
  kind: 'progress' | 'log' | 'task';
  text: string;
  level?: string;
}

export interface RunningCall {
  callId: string;
  server: string;
  tool: string;
  progress: number | null;
  total: number | null;
  message: string | null;
  log: LogLine[];
  outcome: CallOutcome | null;
  /** Set when the call runs as a task: its id and latest status. */
  task: { id: string; status: string; message: string | null } | null;
}

/**
 * A server's question to the person (elicitation), open until answered or withdrawn: a form
 * (`schema`), or a link to open (`url`, already checked by the engine) when `mode` is 'url'.
 */
export interface Question {
  server: string;
  id: string;
  mode: 'form' | 'url';
  message: string;
  schema: Record<string, unknown>;
  url?: string;
  /** The server's own id for a URL-mode question (what `elicitation_completed` names). */
  elicitationId?: string;
}

/** A link the person accepted to open; shown until the server says it is done, or dismissed. */
export interface LinkWait {
  server: string;
  elicitationId: string;
  message: string;
  url: string;
}

/** A server's request for a model's reply (sampling), answered by the person. */
export interface SamplingAsk {
  server: string;
  id: string;
  request: { messages?: { role: string; content: { type: string; text?: string } }[]; systemPrompt?: string; maxTokens?: number };
}

export interface Login {
  url: string | null;
  error: string | null;
}

/** Keep the per-call log bounded: a chatty server must not grow the window without end. */
const MAX_LOG = 500;
/** As many as the engine's journal keeps per server. */
const MAX_NOTICES = 1000;

export class HubStore {
  servers = $state<ServerView[]>([]);
  calls = $state<Record<string, RunningCall>>({});
  logins = $state<Record<string, Login>>({});
  /** Open questions from servers, oldest first. */
  questions = $state<Question[]>([]);
  /** Links opened for a server's question whose completion the server may still announce. */
  linkWaits = $state<LinkWait[]>([]);
  /** Open sampling requests, oldest first. */
  samplings = $state<SamplingAsk[]>([]);
  /** Bumped on `tools/list_changed`, so a tool list knows to load again. */
  toolsVersion = $state<Record<string, number>>({});
  /** Bumped per `server:resources` / `server:prompts` on list_changed, to list them again. */
  listVersion = $state<Record<string, number>>({});
  /** Bumped per `server uri` on `resources/updated`, so an open resource reads itself again. */
  resourceVersion = $state<Record<string, number>>({});
  /** Notifications that arrived while the window was open, per server, oldest first (bounded). */
  notices = $state<Record<string, Notice[]>>({});
  /** Bumped when a server prints something, so its details can show the new lines. */
  outputVersion = $state<Record<string, number>>({});
  loaded = $state(false);
  error = $state<string | null>(null);

  async start(): Promise<void> {
    try {
      await api.subscribe((batch) => this.apply(batch));
      await this.reload();
    } catch (e) {
      this.error = errorMessage(e);
    }
  }

  // A listing is a snapshot taken when it was asked for; events may arrive while it travels,
  // and answers may come back out of order. So only the newest listing is used, and a state
  // event newer than the listing's request wins over what the listing says.
  private stateSeq = 0;
  private stateSeenAt: Record<string, number> = {};
  private latestState: Record<string, ServerState> = {};
  private reloadGen = 0;

  async reload(): Promise<void> {
    const gen = ++this.reloadGen;
    const askedAt = this.stateSeq;
    const list = await api.listServers();
    if (gen !== this.reloadGen) return;
    for (const s of list) {
      if ((this.stateSeenAt[s.name] ?? -1) > askedAt) s.state = this.latestState[s.name];
    }
    this.servers = list;
    this.loaded = true;
  }

  server(name: string): ServerView | undefined {
    return this.servers.find((s) => s.name === name);
  }

  /** A call the window started: known before its first event arrives. */
  track(callId: string, server: string, tool: string): void {
    this.calls[callId] ??= {
      callId,
      server,
      tool,
      progress: null,
      total: null,
      message: null,
      log: [],
      outcome: null,
      task: null,
    };
  }

  /** The person opened a question's link: wait (visibly) for the server to say it is done. */
  waitForLink(q: Question): void {
    if (q.mode !== 'url' || !q.elicitationId || !q.url) return;
    this.linkWaits.push({ server: q.server, elicitationId: q.elicitationId, message: q.message, url: q.url });
  }

  dismissLink(server: string, elicitationId: string): void {
    this.linkWaits = this.linkWaits.filter((w) => !(w.server === server && w.elicitationId === elicitationId));
  }

  apply(batch: EventBatch): void {
    for (const event of batch.events) this.applyOne(event);
    if (batch.lagged) this.reloadSoon();
  }

  private reloadPending = false;

  /** One listing for a burst of reasons (a new server's events, a lag). */
  private reloadSoon(): void {
    if (this.reloadPending) return;
    this.reloadPending = true;
    queueMicrotask(() => {
      this.reloadPending = false;
      this.reload().catch((e) => (this.error = errorMessage(e)));
    });
  }

  private applyOne(event: HubEvent): void {
    switch (event.event) {
      case 'state': {
        const { event: _e, server, ...rest } = event;
        const state = rest as ServerState;
        this.stateSeenAt[server] = ++this.stateSeq;
        this.latestState[server] = state;
        const s = this.server(server);
        if (s) s.state = state;
        // A new server, or a connection whose revision (`spoke`) the list should now show.
        if ((!s || state.state === 'connected') && this.loaded) this.reloadSoon();
        break;
      }
      case 'call_started':
        this.track(event.call_id, event.server, event.tool);
        break;
      case 'progress': {
        this.track(event.call_id, event.server, '');
        const call = this.calls[event.call_id];
        call.progress = event.progress;
        call.total = event.total;
        call.message = event.message ?? null;
        const of = event.total != null ? ` of ${event.total}` : '';
        push(call.log, {
          kind: 'progress',
          text: `progress ${event.progress}${of}${event.message ? `: ${event.message}` : ''}`,
        });
        break;
      }
      case 'log': {
        if (event.call_id == null) break;
        this.track(event.call_id, event.server, '');
        push(this.calls[event.call_id].log, {
          kind: 'log',
          level: event.level,
          text: `${event.logger ? `${event.logger}: ` : ''}${render(event.data)}`,
        });
        break;
      }
      case 'call_finished': {
        this.track(event.call_id, event.server, '');
        this.calls[event.call_id].outcome = event.outcome;
        break;
      }
      case 'login_url':
        this.logins[event.server] = { url: event.url, error: null };
        break;
      case 'login_finished':
        if (event.ok) delete this.logins[event.server];
        else this.logins[event.server] = { url: null, error: event.message ?? 'the login failed' };
        break;
      case 'tools_changed':
        this.toolsVersion[event.server] = (this.toolsVersion[event.server] ?? 0) + 1;
        break;
      case 'elicitation_requested': {
        const r = event.request as { mode?: string; message?: string; requestedSchema?: Record<string, unknown>; url?: string; elicitationId?: string };
        this.questions.push({
          server: event.server,
          id: event.id,
          mode: r.mode === 'url' ? 'url' : 'form',
          message: r.message ?? '',
          schema: r.requestedSchema ?? {},
          url: r.url,
          elicitationId: r.elicitationId,
        });
        break;
      }
      case 'elicitation_completed':
        this.dismissLink(event.server, event.elicitation_id);
        break;
      case 'task_status': {
        this.track(event.call_id, event.server, '');
        const call = this.calls[event.call_id];
        call.task = { id: event.task_id, status: event.status, message: event.message ?? null };
        push(call.log, { kind: 'task', text: `task ${event.status.replace('_', ' ')}${event.message ? `: ${event.message}` : ''}` });
        break;
      }
      case 'elicitation_finished':
        this.questions = this.questions.filter((q) => q.id !== event.id);
        break;
      case 'sampling_requested':
        this.samplings.push({ server: event.server, id: event.id, request: event.request as SamplingAsk['request'] });
        break;
      case 'sampling_finished':
        this.samplings = this.samplings.filter((q) => q.id !== event.id);
        break;
      case 'list_changed': {
        const key = `${event.server}:${event.list}`;
        this.listVersion[key] = (this.listVersion[key] ?? 0) + 1;
        break;
      }
      case 'resource_updated': {
        const key = `${event.server} ${event.uri}`;
        this.resourceVersion[key] = (this.resourceVersion[key] ?? 0) + 1;
        break;
      }
      case 'notice': {
        this.notices[event.server] ??= [];
        // Read back: the store holds a reactive copy of what was assigned.
        const list = this.notices[event.server];
        list.push(event.notice);
        if (list.length > MAX_NOTICES) list.splice(0, list.length - MAX_NOTICES);
        break;
      }
      case 'server_output':
        this.outputVersion[event.server] = (this.outputVersion[event.server] ?? 0) + 1;
        break;
    }
  }
}

function push(log: LogLine[], line: LogLine): void {
  log.push(line);
  if (log.length > MAX_LOG) log.splice(0, log.length - MAX_LOG);
}

function render(data: JsonValue): string {
  return typeof data === 'string' ? data : JSON.stringify(data);
}

export function stateLabel(state: ServerState): string {
  switch (state.state) {
    case 'connected':
      return 'Connected';
    case 'connecting':
      return 'Connecting…';
    case 'needs_auth':
      return 'Needs login';
    case 'disconnected':
      return 'Disconnected';
    case 'error':
      return 'Error';
  }
}
