#!/usr/bin/env node
// A small 2025-era MCP test server on the official TypeScript SDK v1 (@modelcontextprotocol/sdk
// 1.32.2), served the way that SDK's examples serve it: stateful Streamable HTTP, one session per
// `initialize`, with the standalone GET stream as the only way the server can speak first. Run it
// with the pinned Node 22:
//
//   node tests/peers/v1-server.mjs [--port N] [--get-delay-ms N] [--answer-unknown-empty]
//   node tests/peers/v1-server.mjs stdio [--answer-unknown-empty] [--starts FILE]
//
// `--answer-unknown-empty` answers every request it does not know with an empty result (the SDK's
// `fallbackRequestHandler`), as some 2025-era servers do: such a server misreads a newer client's
// `server/discover`. `--starts FILE` appends a line to FILE each time the process starts.
//
// Over HTTP it listens on 127.0.0.1 (port 0, the default, picks a free one) at /mcp, and once listening prints
// exactly one line on stdout: {"url":"http://127.0.0.1:PORT/mcp"}. `--get-delay-ms N` holds every
// GET (the session's event stream) for N ms before the SDK opens it: a slow network, or a busy
// server, as a client sees it.
//
// Tools:
//   ask_on_stream  asks "What is your name?" (a form elicitation) with the server's own request,
//                  not tied to the call, as the conformance suite's elicitation scenario does. The
//                  SDK sends such a request on the session's GET stream and drops it when that
//                  stream is not open yet. Answers "Hello, <name>!", or isError when the person
//                  declines, cancels, or the question could not be asked.

import { createServer } from "node:http";
import { randomUUID } from "node:crypto";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { appendFileSync } from "node:fs";

const args = process.argv.slice(2);
const value = (name) => {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : undefined;
};
const port = Number(value("--port") ?? 0);
const getDelayMs = Number(value("--get-delay-ms") ?? 0);
const answerUnknownEmpty = args.includes("--answer-unknown-empty");
const starts = value("--starts");
if (starts) appendFileSync(starts, `${process.pid}\n`);

const text = (t, isError = false) => ({ content: [{ type: "text", text: t }], ...(isError && { isError: true }) });

function newServer() {
  const server = new McpServer({ name: "patchbay-v1-test", version: "1.0.0" });
  server.registerTool(
    "ask_on_stream",
    { description: "Asks your name on the session's own stream, then greets you." },
    async () => {
      try {
        // No relatedRequestId: the question goes on the standalone GET stream.
        const answer = await server.server.elicitInput({
          message: "What is your name?",
          requestedSchema: { type: "object", properties: { name: { type: "string" } }, required: ["name"] },
        });
        if (answer.action !== "accept") return text(`No name given (${answer.action})`, true);
        return text(`Hello, ${answer.content.name}!`);
      } catch (e) {
        return text(`Could not ask: ${e.message}`, true);
      }
    },
  );
  if (answerUnknownEmpty) server.server.fallbackRequestHandler = async () => ({});
  return server;
}

if (args[0] === "stdio") {
  await newServer().connect(new StdioServerTransport());
} else {
  serveHttp();
}

function serveHttp() {
  const sessions = new Map();
  const http = createServer(async (req, res) => {
    if (!req.url.startsWith("/mcp")) {
      res.writeHead(404).end();
      return;
    }
    const id = req.headers["mcp-session-id"];
    let transport = id && sessions.get(id);
    if (!transport) {
      if (req.method !== "POST" || id) {
        res.writeHead(id ? 404 : 400, { "content-type": "application/json" });
        res.end(JSON.stringify({ jsonrpc: "2.0", error: { code: -32000, message: "Unknown or missing session" }, id: null }));
        return;
      }
      transport = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (sid) => sessions.set(sid, transport),
      });
      transport.onclose = () => transport.sessionId && sessions.delete(transport.sessionId);
      await newServer().connect(transport);
    }
    if (req.method === "GET" && getDelayMs > 0) await new Promise((r) => setTimeout(r, getDelayMs));
    await transport.handleRequest(req, res);
  });
  http.listen(port, "127.0.0.1", () => {
    process.stdout.write(JSON.stringify({ url: `http://127.0.0.1:${http.address().port}/mcp` }) + "\n");
  });
}
