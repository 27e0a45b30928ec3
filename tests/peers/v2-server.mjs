#!/usr/bin/env node
// A small MCP test server on the official TypeScript SDK v2 (@modelcontextprotocol/server 2.4.0),
// which speaks protocol revision 2026-07-28 (server/discover, per-request `_meta` envelope,
// multi round-trip requests, subscriptions/listen) and, as that SDK does by default, also the
// 2025-era `initialize` handshake. Run it with the pinned Node 22:
//
//   node tests/peers/v2-server.mjs stdio
//   node tests/peers/v2-server.mjs http [--port N] [--log] [--ttl-ms N]
//
// stdio: served with the SDK's `serveStdio` (the connection's first message picks the era).
// http:  stateless Streamable HTTP on 127.0.0.1 (port 0, the default, picks a free one) at /mcp,
//        served with the SDK's `createMcpHandler` (one fresh server instance per request; 2025-era
//        requests go to its default stateless legacy fallback). Once listening it prints exactly
//        one line on stdout: {"url":"http://127.0.0.1:PORT/mcp"}. `--log` writes every inbound
//        HTTP request (method, headers, body) to stderr as one JSON line, for wire captures.
//        `--ttl-ms N` lets clients keep the tool list for N ms (`ttlMs` on tools/list results).
//
// Tools:
//   ask_name    multi round-trip: returns an input_required result holding a form elicitation
//               (`name`, "What is your name?") and a requestState; the retry must carry the
//               answer in inputResponses and echo the same requestState. Answers "Hello, <name>!",
//               or isError "No name given (<action>)" when the person declines or cancels.
//   slow_count  {steps 1..50 = 5, delay_ms 0..5000 = 200}: notifications/progress per step when the
//               request carries a progressToken, then "counted to N".
//   add_tool    {name ^[a-z_]{1,32}$}: registers a tool `name` (answers "I am <name>") and announces
//               notifications/tools/list_changed (2026-07-28: on open subscriptions/listen streams).
//   echo        {message}: returns message (used by the benchmarks).
//   ask_many    {count 1..100}: asks `count` questions in one round, then says how many came back.
//   ask_forever answers every round with input_required and a new requestState (never finishes),
//               so a client's bound on rounds can be seen.
//   task_count  {steps, delay_ms, ask, asks, fail, long_id}: when the request declares the Tasks
//               extension (SEP-2663), answers with a task and counts in the background (status
//               "step i of N"); `ask` asks "Who is counting?" (`asks` N: N rounds, keys who-1..),
//               answered with tasks/update (the answered key stays outstanding for 2 more
//               tasks/get); `fail` fails the task; `long_id` gives it a 1000-character id. The
//               SDK does not serve the extension: tasks/get, tasks/update and tasks/cancel are
//               written here with its custom-method handlers. Without the extension: counts at once.
// Plus the resource v2://readme (text/plain), the prompt `greet` (argument `who`), and the prompt
// `greet_asking`, which asks who to greet through an input_required result first.

import { createServer } from "node:http";
import {
  createMcpHandler,
  hostHeaderValidationResponse,
  inputRequired,
  inputResponse,
  localhostAllowedHostnames,
  localhostAllowedOrigins,
  McpServer,
  originValidationResponse,
} from "@modelcontextprotocol/server";
import { serveStdio } from "@modelcontextprotocol/server/stdio";
import * as z from "zod";

const SERVER_INFO = { name: "patchbay-v2-test", version: "1.0.0" };
const README = "patchbay-v2-test: a small MCP server on the TypeScript SDK v2, for Patchbay's tests.\n";
// Opaque state ask_name hands out with its question and expects back, byte for byte, on the retry.
const ASK_NAME_STATE = "ask_name/round-1";

// Tools added by add_tool, kept for the life of the process: over HTTP every request gets a fresh
// server instance from the factory, so the factory registers these each time.
const addedTools = new Set();
const BUILT_IN = new Set(["ask_name", "slow_count", "add_tool", "echo", "ask_many", "ask_forever"]);

const text = (t, isError = false) => ({ content: [{ type: "text", text: t }], ...(isError && { isError: true }) });
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function registerAddedTool(server, name) {
  server.registerTool(name, { description: `Added at run time by add_tool` }, async () => text(`I am ${name}`));
}

// The Tasks extension (SEP-2663), which the SDK defines types for but does not serve: tasks live
// here, for the life of the process (over HTTP every request gets a fresh server instance).
const TASKS_EXTENSION = "io.modelcontextprotocol/tasks";
const TASK_POLL_MS = 100;
const tasks = new Map();
let taskCounter = 0;

function taskView(task) {
  const view = {
    taskId: task.id,
    status: task.status,
    createdAt: task.createdAt,
    lastUpdatedAt: task.lastUpdatedAt,
    ttlMs: 600000,
    pollIntervalMs: TASK_POLL_MS,
  };
  if (task.message !== undefined) view.statusMessage = task.message;
  if (task.status === "input_required") view.inputRequests = task.inputRequests;
  if (task.status === "completed") view.result = task.result;
  if (task.status === "failed") view.error = task.error;
  return view;
}

function setTask(task, status, message) {
  task.status = status;
  task.message = message;
  task.lastUpdatedAt = new Date().toISOString();
}

// After tasks/update, a task keeps showing its answered question for this many tasks/get (the
// extension lets the acknowledgement be eventually consistent): a client must not ask twice.
const STALE_GETS = 2;

/** Runs task_count's work in the background: steps, then `asks` questions, then the result. */
async function runCountTask(task, { steps, delay_ms, ask, asks, fail }) {
  for (let i = 1; i <= steps; i++) {
    await sleep(delay_ms);
    if (task.status === "cancelled") return;
    setTask(task, "working", `step ${i} of ${steps}`);
  }
  if (fail) {
    task.error = { code: -32603, message: "counting failed\nerror: this line is the server's" };
    setTask(task, "failed", undefined);
    return;
  }
  let who = "nobody";
  const rounds = asks ?? (ask ? 1 : 0);
  for (let round = 1; round <= rounds; round++) {
    const key = rounds === 1 ? "who" : `who-${round}`;
    task.inputRequests = {
      [key]: inputRequired.elicit({
        mode: "form",
        message: rounds === 1 ? "Who is counting?" : `Who is counting? (${round})`,
        requestedSchema: { type: "object", properties: { who: { type: "string" } }, required: ["who"] },
      }),
    };
    task.key = key;
    setTask(task, "input_required", "waiting for an answer");
    const answer = await new Promise((resolve) => (task.answered = resolve));
    if (task.status === "cancelled") return;
    who = answer?.action === "accept" ? answer.content?.who : `nobody (${answer?.action})`;
    task.inputRequests = undefined;
  }
  task.result = text(`counted to ${steps} for ${who}`);
  setTask(task, "completed", undefined);
}

function registerTaskTool(server) {
  server.registerTool(
    "task_count",
    {
      description:
        "Counts to `steps` as a task (SEP-2663) when the client takes tasks; with `ask` asks who is counting first (`asks`: that many times), with `fail` fails, with `long_id` names the task with 1000 characters",
      inputSchema: z.object({
        steps: z.number().int().min(1).max(50).default(3),
        delay_ms: z.number().int().min(0).max(5000).default(200),
        ask: z.boolean().default(false),
        asks: z.number().int().min(1).max(50).optional(),
        fail: z.boolean().default(false),
        long_id: z.boolean().default(false),
      }),
    },
    async (args, ctx) => {
      const capabilities = ctx.mcpReq.envelope?.["io.modelcontextprotocol/clientCapabilities"];
      if (!capabilities?.extensions?.[TASKS_EXTENSION]) {
        return text(`counted to ${args.steps} without a task`);
      }
      const now = new Date().toISOString();
      const id = `task-${++taskCounter}`;
      const task = { id: args.long_id ? id + "x".repeat(1000) : id, status: "working", createdAt: now, lastUpdatedAt: now };
      tasks.set(task.id, task);
      runCountTask(task, args);
      return { resultType: "task", ...taskView(task) };
    },
  );
  const taskId = z.object({ taskId: z.string() }).passthrough();
  const known = (id) => {
    const task = tasks.get(id);
    if (!task) throw new Error(`no task ${id}`);
    return task;
  };
  server.server.setRequestHandler("tasks/get", { params: taskId }, async ({ taskId: id }) => {
    const task = known(id);
    if (task.pending !== undefined) {
      if (task.staleGets > 0) {
        task.staleGets--;
      } else {
        const { answered, pending } = task;
        task.pending = undefined;
        task.answered = undefined;
        setTask(task, "working", "answered");
        answered(pending);
        await sleep(0);
      }
    }
    return { resultType: "complete", ...taskView(task) };
  });
  server.server.setRequestHandler("tasks/update", { params: taskId }, async ({ taskId: id }, ctx) => {
    const task = known(id);
    const answer = (ctx.mcpReq.inputResponses ?? {})[task.key];
    if (task.status === "input_required" && answer !== undefined && task.answered && task.pending === undefined) {
      task.pending = answer;
      task.staleGets = STALE_GETS;
    }
    return { resultType: "complete" };
  });
  server.server.setRequestHandler("tasks/cancel", { params: taskId }, async ({ taskId: id }) => {
    const task = tasks.get(id);
    if (task && !["completed", "failed", "cancelled"].includes(task.status)) {
      setTask(task, "cancelled", "cancelled by the client");
      task.answered?.(undefined);
    }
    return { resultType: "complete" };
  });
}

/** Builds one server instance; `onToolAdded(server, name)` announces a new tool the way this serving mode can. */
function buildServer({ onToolAdded }) {
  // --ttl-ms: how long a client may keep the tool list (2026-07-28 `ttlMs`); 0, the SDK's default,
  // means not at all.
  const server = new McpServer(
    SERVER_INFO,
    toolListTtlMs > 0 ? { cacheHints: { "tools/list": { ttlMs: toolListTtlMs, cacheScope: "private" } } } : undefined,
  );

  server.registerTool(
    "ask_name",
    { description: "Asks the person for their name (an input_required result) and greets them" },
    async (ctx) => {
      const answer = inputResponse(ctx.mcpReq.inputResponses, "name");
      if (answer.kind === "missing") {
        return inputRequired({
          inputRequests: {
            name: inputRequired.elicit({
              mode: "form",
              message: "What is your name?",
              requestedSchema: {
                type: "object",
                properties: { name: { type: "string", title: "Name" } },
                required: ["name"],
              },
            }),
          },
          requestState: ASK_NAME_STATE,
        });
      }
      const state = ctx.mcpReq.requestState();
      if (state !== ASK_NAME_STATE) {
        return text(`requestState not echoed (got ${JSON.stringify(state ?? null)})`, true);
      }
      if (answer.kind !== "elicit") return text(`No name given (unexpected ${answer.kind} response)`, true);
      const name = answer.action === "accept" ? answer.content?.name : undefined;
      if (typeof name !== "string" || name === "") return text(`No name given (${answer.action})`, true);
      return text(`Hello, ${name}!`);
    },
  );

  server.registerTool(
    "slow_count",
    {
      description: "Counts to `steps`, sleeping `delay_ms` between steps and reporting progress for each",
      inputSchema: z.object({
        steps: z.number().int().min(1).max(50).default(5),
        delay_ms: z.number().int().min(0).max(5000).default(200),
      }),
    },
    async ({ steps, delay_ms }, ctx) => {
      const progressToken = ctx.mcpReq._meta?.progressToken;
      for (let i = 1; i <= steps; i++) {
        await sleep(delay_ms);
        if (ctx.mcpReq.signal.aborted) return text(`cancelled at ${i - 1}`, true);
        if (progressToken !== undefined) {
          await ctx.mcpReq.notify({
            method: "notifications/progress",
            params: { progressToken, progress: i, total: steps, message: `step ${i} of ${steps}` },
          });
        }
      }
      return text(`counted to ${steps}`);
    },
  );

  server.registerTool(
    "add_tool",
    {
      description: "Registers a new tool with the given name; it answers 'I am <name>'",
      inputSchema: z.object({ name: z.string().regex(/^[a-z_]{1,32}$/) }),
    },
    async ({ name }) => {
      if (addedTools.has(name) || BUILT_IN.has(name)) {
        return text(`a tool named ${name} already exists`, true);
      }
      addedTools.add(name);
      onToolAdded(server, name);
      return text(`added ${name}`);
    },
  );

  server.registerTool(
    "echo",
    { description: "Returns the message", inputSchema: z.object({ message: z.string() }) },
    async ({ message }) => text(message),
  );

  // Never satisfied: answers every round with input_required and a new state, so a client has
  // to give up by itself.
  server.registerTool(
    "ask_forever",
    { description: "Asks for another round every time (a client must bound the rounds)" },
    async (ctx) => {
      const round = Number((ctx.mcpReq.requestState() ?? "round-0").split("-")[1]) + 1;
      return inputRequired({ requestState: `round-${round}` });
    },
  );

  // Asks `count` questions in one round; answers with how many came back.
  server.registerTool(
    "ask_many",
    { description: "Asks `count` questions at once", inputSchema: z.object({ count: z.number().int().min(1).max(100) }) },
    async ({ count }, ctx) => {
      const answered = Object.keys(ctx.mcpReq.inputResponses ?? {}).length;
      if (answered > 0) return text(`${answered} answers`);
      const inputRequests = {};
      for (let i = 1; i <= count; i++) {
        inputRequests[`q${i}`] = inputRequired.elicit({
          mode: "form",
          message: `Question ${i}`,
          requestedSchema: { type: "object", properties: { ok: { type: "boolean" } } },
        });
      }
      return inputRequired({ inputRequests });
    },
  );

  registerTaskTool(server);

  for (const name of addedTools) registerAddedTool(server, name);

  server.registerResource(
    "readme",
    "v2://readme",
    { title: "README", description: "What this server is", mimeType: "text/plain" },
    async (uri) => ({ contents: [{ uri: uri.href, mimeType: "text/plain", text: README }] }),
  );

  server.registerPrompt(
    "greet",
    { description: "Greets someone", argsSchema: z.object({ who: z.string().describe("Who to greet") }) },
    ({ who }) => ({ messages: [{ role: "user", content: { type: "text", text: `Please greet ${who}.` } }] }),
  );

  // prompts/get through a multi round-trip request: asks who to greet first.
  server.registerPrompt(
    "greet_asking",
    { description: "Asks who to greet (an input_required result), then greets them" },
    (ctx) => {
      const answer = inputResponse(ctx.mcpReq.inputResponses, "who");
      if (answer.kind === "missing") {
        return inputRequired({
          inputRequests: {
            who: inputRequired.elicit({
              mode: "form",
              message: "Who should be greeted?",
              requestedSchema: { type: "object", properties: { who: { type: "string" } }, required: ["who"] },
            }),
          },
        });
      }
      const who = answer.kind === "elicit" && answer.action === "accept" ? answer.content?.who : "nobody";
      return { messages: [{ role: "user", content: { type: "text", text: `Please greet ${who}.` } }] };
    },
  );

  return server;
}

function serveOnStdio() {
  // One instance per connection (plus a discarded server/discover probe instance). Registering the
  // new tool on the live instance makes McpServer send notifications/tools/list_changed itself;
  // serveStdio routes it onto the open subscriptions/listen stream (2026-07-28) or sends it as is
  // (2025 era).
  serveStdio(() => buildServer({ onToolAdded: (server, name) => registerAddedTool(server, name) }), {
    onerror: (error) => process.stderr.write(`v2-server: ${error?.message ?? error}\n`),
  });
}

async function toWebRequest(req, signal) {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) headers.append(name, v);
  }
  let body;
  if (req.method !== "GET" && req.method !== "HEAD") {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    body = Buffer.concat(chunks).toString("utf8");
  }
  return new Request(`http://${req.headers.host ?? "127.0.0.1"}${req.url}`, {
    method: req.method,
    headers,
    body,
    signal,
  });
}

async function writeWebResponse(response, res, abort) {
  res.writeHead(response.status, Object.fromEntries(response.headers));
  if (response.body === null) return res.end();
  try {
    for await (const chunk of response.body) {
      if (abort.signal.aborted) break;
      if (!res.write(chunk)) {
        await new Promise((resolve) => {
          res.once("drain", resolve);
          abort.signal.addEventListener("abort", resolve, { once: true });
        });
      }
    }
  } catch {
    // The client went away; the abort signal already ended the exchange.
  }
  res.end();
}

function serveOnHttp({ port, log }) {
  // The SDK's createMcpHandler is fetch-shaped; @modelcontextprotocol/node's toNodeHandler is its
  // documented node:http adapter, not pinned here, so this is the same small bridge by hand.
  const handler = createMcpHandler(
    () => buildServer({ onToolAdded: () => handler.notify.toolsChanged() }),
    { onerror: (error) => process.stderr.write(`v2-server: ${error?.message ?? error}\n`) },
  );
  const allowedHosts = localhostAllowedHostnames();
  const allowedOrigins = localhostAllowedOrigins();

  const server = createServer(async (req, res) => {
    const abort = new AbortController();
    let finished = false;
    res.on("close", () => finished || abort.abort());
    try {
      const path = new URL(req.url ?? "/", "http://x").pathname;
      if (path !== "/mcp") {
        res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
        return;
      }
      const request = await toWebRequest(req, abort.signal);
      if (log) {
        const body = request.method === "POST" ? await request.clone().text() : undefined;
        process.stderr.write(
          JSON.stringify({ http: request.method, headers: Object.fromEntries(request.headers), body }) + "\n",
        );
      }
      const response =
        hostHeaderValidationResponse(request, allowedHosts) ??
        originValidationResponse(request, allowedOrigins) ??
        (await handler.fetch(request));
      await writeWebResponse(response, res, abort);
    } catch (error) {
      process.stderr.write(`v2-server: ${error?.stack ?? error}\n`);
      if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" });
      res.end();
    } finally {
      finished = true;
    }
  });
  server.listen(port, "127.0.0.1", () => {
    process.stdout.write(JSON.stringify({ url: `http://127.0.0.1:${server.address().port}/mcp` }) + "\n");
  });
  const stop = () => {
    handler.close().finally(() => process.exit(0));
    server.close();
    server.closeAllConnections();
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

function usage(message) {
  process.stderr.write(`v2-server: ${message}\nusage: v2-server.mjs stdio | http [--port N] [--log] [--ttl-ms N]\n`);
  process.exit(2);
}

let toolListTtlMs = 0;
const [mode, ...rest] = process.argv.slice(2);
if (mode === "stdio") {
  if (rest.length > 0) usage(`unexpected argument ${rest[0]}`);
  serveOnStdio();
} else if (mode === "http") {
  let port = 0;
  let log = false;
  for (let i = 0; i < rest.length; i++) {
    if (rest[i] === "--port") {
      port = Number(rest[++i]);
      if (!Number.isInteger(port) || port < 0 || port > 65535) usage(`--port takes a port number, not ${rest[i]}`);
    } else if (rest[i] === "--log") {
      log = true;
    } else if (rest[i] === "--ttl-ms") {
      toolListTtlMs = Number(rest[++i]);
      if (!Number.isSafeInteger(toolListTtlMs) || toolListTtlMs < 0) usage(`--ttl-ms takes milliseconds, not ${rest[i]}`);
    } else {
      usage(`unexpected argument ${rest[i]}`);
    }
  }
  serveOnHttp({ port, log });
} else {
  usage(mode === undefined ? "say stdio or http" : `unknown mode ${mode}`);
}
