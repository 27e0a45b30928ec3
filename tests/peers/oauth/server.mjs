// Test peer: a real OAuth 2.1 authorization server (oidc-provider) plus an MCP
// resource server protected by it, which proxies to a server-everything child.
// Test use only. See README.md next to this file.
//
// stdout carries exactly one line, the JSON "ready" event. Logs go to stderr.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Provider from 'oidc-provider';

// stdout is reserved for the ready line: send every console channel (oidc-provider
// prints NOTICEs with console.info) to stderr.
for (const k of ['log', 'info', 'debug']) console[k] = console.error;

const HOST = '127.0.0.1';
const log = (...args) => console.error('[oauth-peer]', ...args);

const envInt = (name, dflt) => {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return dflt;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, got ${raw}`);
  return n;
};

const config = {
  asPort: envInt('AS_PORT', 0),
  rsPort: envInt('RS_PORT', 0),
  atTtl: envInt('AT_TTL', 60),
  rtTtl: envInt('RT_TTL', 3600),
  preregClientId: process.env.PREREG_CLIENT_ID || undefined,
  preregClientSecret: process.env.PREREG_CLIENT_SECRET || undefined,
  preregRedirectUris: (process.env.PREREG_REDIRECT_URIS || 'http://127.0.0.1/callback')
    .split(',').map((s) => s.trim()).filter(Boolean),
  // Real sign-in and consent pages instead of auto-approval (see README, "Interactive mode").
  interactive: process.argv.slice(2).includes('--interactive') || process.env.OAUTH_INTERACTIVE === '1',
  // The MCP transport guarded: streamable HTTP at /mcp, or the legacy HTTP+SSE at /sse with
  // its message endpoint /message.
  upstream: process.env.UPSTREAM || 'streamableHttp',
};
if (!['streamableHttp', 'sse'].includes(config.upstream)) {
  throw new Error(`UPSTREAM must be streamableHttp or sse, got ${config.upstream}`);
}
for (const arg of process.argv.slice(2)) {
  if (arg !== '--interactive') throw new Error(`unknown argument ${arg} (only --interactive)`);
}

// The one account of interactive mode.
const TEST_USER = 'test-user';
const TEST_PASSWORD = 'test-password';

// ---------------------------------------------------------------- lifecycle

let child; // server-everything
const servers = [];
let shuttingDown = false;

function shutdown(reason, code = 0) {
  if (shuttingDown) return;
  shuttingDown = true;
  log(`shutting down (${reason})`);
  if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const s of servers) s.closeAllConnections?.();
  // Give stderr a moment to flush, then go.
  setTimeout(() => process.exit(code), 50).unref();
  process.exitCode = code;
  for (const s of servers) s.close();
}

process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
process.on('exit', () => {
  if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});
// Exit when the harness closes our stdin (or dies). Only when stdin is a pipe
// or socket: /dev/null or a TTY would otherwise end us at once or never.
try {
  const st = fs.fstatSync(0);
  if (st.isFIFO() || st.isSocket()) {
    process.stdin.on('end', () => shutdown('stdin closed'));
    process.stdin.on('error', () => shutdown('stdin error'));
    process.stdin.resume();
  }
} catch { /* no fd 0 */ }

function listen(server, port) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, HOST, () => {
      server.off('error', reject);
      servers.push(server);
      resolve(server.address().port);
    });
  });
}

async function freePort() {
  const s = http.createServer();
  await new Promise((resolve, reject) => s.once('error', reject).listen(0, HOST, resolve));
  const { port } = s.address();
  await new Promise((resolve) => s.close(resolve));
  return port;
}

// ---------------------------------------------------------------- server-everything child

// Preloaded into the child: exit when our end of its stdin pipe closes, so the
// child dies with us even if we are SIGKILLed.
const CHILD_GUARD = 'data:text/javascript,process.stdin.on("end",()=>process.exit(0));process.stdin.on("error",()=>process.exit(0));process.stdin.resume();';

async function startEverything() {
  const require = createRequire(import.meta.url);
  const pkgDir = path.dirname(require.resolve('@modelcontextprotocol/server-everything/package.json'));
  const entry = path.join(pkgDir, 'dist', 'index.js');
  for (let attempt = 1; attempt <= 5; attempt++) {
    const port = await freePort();
    const proc = spawn(process.execPath, [`--import=${CHILD_GUARD}`, entry, config.upstream], {
      env: { ...process.env, PORT: String(port) },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const ok = await new Promise((resolve) => {
      let buf = '';
      const timer = setTimeout(() => resolve(false), 15000);
      const onData = (d) => {
        process.stderr.write(`[everything] ${d}`);
        buf += d;
        if (/(listening|running) on port/i.test(buf)) { clearTimeout(timer); resolve(true); }
      };
      proc.stdout.on('data', onData);
      proc.stderr.on('data', onData);
      proc.once('exit', () => { clearTimeout(timer); resolve(false); });
    });
    if (ok) {
      proc.once('exit', (code, sig) => {
        if (!shuttingDown) { log(`server-everything exited unexpectedly (${code ?? sig})`); shutdown('child exit', 1); }
      });
      return { proc, port };
    }
    proc.kill('SIGKILL');
    log(`server-everything failed to start on port ${port} (attempt ${attempt})`);
  }
  throw new Error('could not start server-everything');
}

// ---------------------------------------------------------------- ports, URLs

// Bind both ports first: the issuer and resource URLs depend on them.
let asHandler = (_req, res) => { res.writeHead(503); res.end(); };
let rsHandler = asHandler;
const asServer = http.createServer((req, res) => asHandler(req, res));
const rsServer = http.createServer((req, res) => rsHandler(req, res));
const asPort = await listen(asServer, config.asPort);
const rsPort = await listen(rsServer, config.rsPort);

const ISSUER = `http://${HOST}:${asPort}`;
const RS_ORIGIN = `http://${HOST}:${rsPort}`;
const MCP_PATH = config.upstream === 'sse' ? '/sse' : '/mcp';
// Paths the resource server guards and proxies: the MCP endpoint, and for SSE its message
// endpoint too (the token is the same resource's).
const GUARDED = config.upstream === 'sse' ? ['/sse', '/message'] : ['/mcp'];
const RESOURCE = `${RS_ORIGIN}${MCP_PATH}`;
const PRM_URL = `${RS_ORIGIN}/.well-known/oauth-protected-resource${MCP_PATH}`;
const SCOPE = 'mcp';

// ---------------------------------------------------------------- test state

const state = {
  atTtl: config.atTtl,
  refreshDelayMs: 0,
  refreshDelayPhase: 'before', // 'before': delay, then drop if the client went away; 'after': process, then delay
};
const freshStats = () => ({
  token_requests: { authorization_code: 0, refresh_token: 0, other: 0 },
  token_errors: {},             // error code -> count, all grant types
  refresh_invalid_grant: 0,
  refresh_dropped: 0,           // delayed refresh requests whose client hung up before we answered
  registrations: 0,
  revocations: 0,
  rs_requests: 0,
  rs_unauthorized: 0,
  authorization_requests: 0,    // requests to /auth that start an authorization (not /auth/<uid> resumes)
  interactions: { logins: 0, login_failures: 0, consents: 0, aborts: 0 },
});
let stats = freshStats();
const grantIds = new Set();

// ---------------------------------------------------------------- authorization server

const clients = [];
if (config.preregClientId) {
  clients.push({
    client_id: config.preregClientId,
    client_secret: config.preregClientSecret ?? 'prereg-secret',
    client_name: 'patchbay-prereg',
    // 'native' makes oidc-provider ignore the port of loopback redirect URIs (RFC 8252 7.3).
    application_type: 'native',
    token_endpoint_auth_method: 'client_secret_basic',
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    redirect_uris: config.preregRedirectUris,
  });
}

const provider = new Provider(ISSUER, {
  clients,
  cookies: { keys: ['patchbay-test-cookie-key'] },
  clockTolerance: 0,
  // Error pages as JSON ({error, error_description}) instead of HTML.
  renderError: async (ctx, out) => { ctx.type = 'json'; ctx.body = out; },
  findAccount: async (_ctx, sub) => ({ accountId: sub, claims: async () => ({ sub }) }),
  pkce: { required: () => true }, // v9 only supports S256
  scopes: ['openid', 'offline_access', SCOPE],
  features: {
    devInteractions: { enabled: false },
    registration: { enabled: true }, // open DCR, no initial access token
    // Same rule as the default policy (a client may only revoke its own tokens), minus its NOTICE.
    revocation: { enabled: true, allowedPolicy: async (_ctx, client, token) => token.clientId === client.clientId },
    introspection: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: async () => RESOURCE,
      useGrantedResource: async () => true,
      getResourceServerInfo: async (_ctx, indicator) => {
        if (indicator !== RESOURCE) throw new Provider.errors.InvalidTarget();
        return { scope: SCOPE, audience: RESOURCE, accessTokenFormat: 'opaque', accessTokenTTL: state.atTtl };
      },
    },
  },
  // Refresh tokens for any client allowed the grant, no offline_access needed.
  issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
  rotateRefreshToken: true,
  ttl: {
    AccessToken: () => state.atTtl,
    RefreshToken: config.rtTtl,
    Grant: Math.max(config.rtTtl, 3600),
    Session: Math.max(config.rtTtl, 3600),
    Interaction: 600,
    AuthorizationCode: 60,
  },
  interactions: { url: async (_ctx, interaction) => `/interaction/${interaction.uid}` },
});
provider.on('server_error', (_ctx, err) => log('server_error', err));
provider.on('registration_create.success', () => { stats.registrations += 1; });
provider.on('grant.saved', (grant) => grantIds.add(grant.jti));
provider.on('grant.destroyed', (grant) => grantIds.delete(grant.jti));
provider.on('grant.revoked', (_ctx, grantId) => grantIds.delete(grantId));

const grantTypeOf = (ctx) => {
  const body = ctx.req.body;
  if (typeof body !== 'string') return undefined;
  return new URLSearchParams(body).get('grant_type') ?? undefined;
};

// Counting and delay around the authorization, token and revocation endpoints.
provider.use(async (ctx, next) => {
  if (ctx.path === '/auth' && (ctx.method === 'GET' || ctx.method === 'POST')) stats.authorization_requests += 1;
  if (ctx.method !== 'POST') return next();
  if (ctx.path === '/token/revocation') {
    await next();
    if (ctx.status === 200) stats.revocations += 1;
    return undefined;
  }
  if (ctx.path !== '/token') return next();

  const grantType = grantTypeOf(ctx);
  const key = grantType in stats.token_requests ? grantType : 'other';
  stats.token_requests[key] += 1;
  const isRefresh = grantType === 'refresh_token';
  const delay = isRefresh ? state.refreshDelayMs : 0;

  if (delay > 0 && state.refreshDelayPhase === 'before') {
    let gone = false;
    const onClose = () => { if (!ctx.res.writableFinished) gone = true; };
    ctx.res.once('close', onClose);
    await sleep(delay);
    ctx.res.off('close', onClose);
    if (gone || ctx.req.socket.destroyed) {
      stats.refresh_dropped += 1;
      log(`refresh request dropped: client went away during ${delay} ms delay`);
      ctx.respond = false;
      return undefined;
    }
  }

  await next();

  const err = ctx.body && typeof ctx.body === 'object' ? ctx.body.error : undefined;
  if (err) {
    stats.token_errors[err] = (stats.token_errors[err] ?? 0) + 1;
    if (isRefresh && err === 'invalid_grant') stats.refresh_invalid_grant += 1;
  }
  if (delay > 0 && state.refreshDelayPhase === 'after') await sleep(delay);
  return undefined;
});

// The consent result for an interaction at the 'consent' prompt: a grant of exactly what is
// missing (OIDC scopes and claims, and the scopes of each requested resource indicator).
async function consentResult(details) {
  const { prompt, params, session } = details;
  const grant = details.grantId
    ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
  const missing = prompt.details;
  if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
  if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
    grant.addResourceScope(indicator, scopes.join(' '));
  }
  const grantId = await grant.save();
  return { consent: details.grantId ? {} : { grantId } };
}

// Default, no UI: log in as test-user, then consent to whatever was asked.
async function autoInteraction(req, res) {
  const details = await provider.interactionDetails(req, res);
  if (details.prompt.name === 'login') {
    stats.interactions.logins += 1;
    return provider.interactionFinished(req, res, { login: { accountId: TEST_USER } }, { mergeWithLastSubmission: false });
  }
  stats.interactions.consents += 1;
  return provider.interactionFinished(req, res, await consentResult(details), { mergeWithLastSubmission: true });
}

// ---------------------------------------------------------------- interactive mode: real pages

const esc = (v) => String(v ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));

function htmlPage(res, status, title, body) {
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    // No form-action: browsers apply it to the redirect chain after a submit, which ends at the client.
    'content-security-policy': "default-src 'none'",
  });
  res.end(`<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title></head>\n<body><main>\n<h1>${esc(title)}</h1>\n${body}\n</main></body></html>\n`);
}

const abortForm = (uid, label) =>
  `<form method="post" action="/interaction/${esc(uid)}/abort"><button type="submit">${esc(label)}</button></form>`;

function loginPage(res, details, { error, username = '' } = {}) {
  const { uid, params } = details;
  htmlPage(res, 200, 'Sign in', [
    `<p>Sign in to continue to <b>${esc(params.client_id)}</b>.</p>`,
    error ? `<p class="error" role="alert">${esc(error)}</p>` : '',
    `<form method="post" action="/interaction/${esc(uid)}/login">`,
    `<label>Username <input type="text" name="username" value="${esc(username)}" autocomplete="username"></label>`,
    '<label>Password <input type="password" name="password" value="" autocomplete="current-password"></label>',
    '<button type="submit">Sign in</button>',
    '</form>',
    abortForm(uid, 'Cancel'),
  ].join('\n'));
}

function consentPage(res, details) {
  const { uid, params, prompt, session } = details;
  const missing = prompt.details;
  const items = [];
  for (const s of missing.missingOIDCScope ?? []) items.push(`<li>scope <code>${esc(s)}</code></li>`);
  for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
    items.push(`<li>scope <code>${esc(scopes.join(' '))}</code> at <code>${esc(indicator)}</code></li>`);
  }
  htmlPage(res, 200, 'Allow access?', [
    `<p>Signed in as <b>${esc(session?.accountId)}</b>. <b>${esc(params.client_id)}</b> asks for:</p>`,
    `<ul>${items.join('') || '<li>nothing new</li>'}</ul>`,
    `<form method="post" action="/interaction/${esc(uid)}/confirm">`,
    '<button type="submit">Allow</button>',
    '</form>',
    abortForm(uid, 'Deny'),
  ].join('\n'));
}

// A failed lookup of the interaction (expired, wrong cookie): a page, not a crash.
async function detailsOrPage(req, res) {
  try {
    return await provider.interactionDetails(req, res);
  } catch (e) {
    htmlPage(res, 400, 'Sign-in expired', `<p class="error" role="alert">${esc(e.error_description ?? e.message)}</p>`);
    return undefined;
  }
}

// GET /interaction/<uid>, POST /interaction/<uid>/{login,confirm,abort}.
async function interactivePage(req, res, action) {
  const details = await detailsOrPage(req, res);
  if (!details) return undefined;
  const prompt = details.prompt.name;
  if (action === undefined) {
    if (prompt === 'login') return loginPage(res, details);
    if (prompt === 'consent') return consentPage(res, details);
    return htmlPage(res, 400, 'Unknown step', `<p class="error" role="alert">prompt ${esc(prompt)}</p>`);
  }
  const form = new URLSearchParams(await readBody(req));
  if (action === 'abort') {
    stats.interactions.aborts += 1;
    return provider.interactionFinished(req, res, {
      error: 'access_denied',
      error_description: 'the user refused the request',
    }, { mergeWithLastSubmission: false });
  }
  if (action === 'login' && prompt === 'login') {
    const username = form.get('username') ?? '';
    if (username !== TEST_USER || form.get('password') !== TEST_PASSWORD) {
      stats.interactions.login_failures += 1;
      log(`sign-in refused for '${username}'`);
      return loginPage(res, details, { error: 'Wrong username or password.', username });
    }
    stats.interactions.logins += 1;
    return provider.interactionFinished(req, res, { login: { accountId: TEST_USER } }, { mergeWithLastSubmission: false });
  }
  if (action === 'confirm' && prompt === 'consent') {
    stats.interactions.consents += 1;
    return provider.interactionFinished(req, res, await consentResult(details), { mergeWithLastSubmission: true });
  }
  return htmlPage(res, 400, 'Wrong step', `<p class="error" role="alert">this sign-in is at the ${esc(prompt)} step, not ${esc(action)}</p>`);
}

async function revokeAllGrants() {
  const models = [provider.AccessToken, provider.RefreshToken, provider.AuthorizationCode];
  const ids = [...grantIds];
  for (const id of ids) {
    await Promise.all(models.map((m) => m.revokeByGrantId(id)));
    await provider.Grant.adapter.destroy(id);
    grantIds.delete(id);
  }
  return ids.length;
}

function json(res, status, body, headers = {}) {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers });
  res.end(JSON.stringify(body));
}

async function testEndpoint(req, res, url) {
  const route = `${req.method} ${url.pathname}`;
  switch (route) {
    case 'GET /test/stats':
      return json(res, 200, { ...stats, grants: grantIds.size, refresh_delay_ms: state.refreshDelayMs, refresh_delay_phase: state.refreshDelayPhase, at_ttl: state.atTtl });
    case 'POST /test/reset-stats':
      stats = freshStats();
      return json(res, 200, { ok: true });
    case 'POST /test/delay': {
      const ms = Number(url.searchParams.get('ms') ?? 0);
      const phase = url.searchParams.get('phase') ?? 'before';
      if (!Number.isFinite(ms) || ms < 0 || !['before', 'after'].includes(phase)) {
        return json(res, 400, { error: 'ms must be >= 0, phase before|after' });
      }
      state.refreshDelayMs = ms;
      state.refreshDelayPhase = phase;
      return json(res, 200, { ok: true, refresh_delay_ms: ms, refresh_delay_phase: phase });
    }
    case 'POST /test/at-ttl': {
      const s = Number(url.searchParams.get('s'));
      if (!Number.isInteger(s) || s <= 0) return json(res, 400, { error: 's must be a positive integer' });
      state.atTtl = s;
      return json(res, 200, { ok: true, at_ttl: s });
    }
    case 'POST /test/revoke-grants':
      return json(res, 200, { ok: true, revoked: await revokeAllGrants() });
    default:
      return json(res, 404, { error: 'no such test endpoint' });
  }
}

async function readBody(req, limit = 64 * 1024) {
  const chunks = [];
  let n = 0;
  for await (const c of req) {
    n += c.length;
    if (n > limit) throw new Error('body too large');
    chunks.push(c);
  }
  return Buffer.concat(chunks).toString('utf8');
}

const providerCallback = provider.callback();
asHandler = async (req, res) => {
  try {
    const url = new URL(req.url, ISSUER);
    if (url.pathname.startsWith('/test/')) return await testEndpoint(req, res, url);
    const interaction = /^\/interaction\/[^/]+(?:\/(login|confirm|abort))?$/.exec(url.pathname);
    if (interaction && config.interactive) {
      const action = interaction[1];
      if (req.method === (action ? 'POST' : 'GET')) return await interactivePage(req, res, action);
      return json(res, 405, { error: 'method not allowed' });
    }
    if (req.method === 'GET' && interaction && !interaction[1]) return await autoInteraction(req, res);
    if (req.method === 'POST' && url.pathname === '/token') {
      // Buffer the body so the token middleware can see grant_type before the
      // grant runs; oidc-provider then reads req.body instead of the stream.
      req.body = await readBody(req);
    }
    return providerCallback(req, res);
  } catch (e) {
    log('AS handler error', e);
    if (!res.headersSent) json(res, 500, { error: 'server_error', error_description: String(e) });
    else res.destroy();
    return undefined;
  }
};

// ---------------------------------------------------------------- resource server

const prm = {
  resource: RESOURCE,
  authorization_servers: [ISSUER],
  scopes_supported: [SCOPE],
  bearer_methods_supported: ['header'],
};

function challenge(res, status, error) {
  stats.rs_unauthorized += 1;
  const parts = [`Bearer resource_metadata="${PRM_URL}"`];
  if (error) parts.push(`error="${error}"`);
  parts.push(`scope="${SCOPE}"`);
  json(res, status, { error: error ?? 'unauthorized' }, { 'www-authenticate': parts.join(', ') });
}

const HOP_BY_HOP = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization',
  'te', 'trailer', 'transfer-encoding', 'upgrade', 'host', 'authorization',
]);
const stripHeaders = (headers) => Object.fromEntries(Object.entries(headers).filter(([k]) => !HOP_BY_HOP.has(k.toLowerCase())));

function proxy(req, res, upstreamPort, pathAndQuery) {
  const preq = http.request({
    host: HOST,
    port: upstreamPort,
    method: req.method,
    path: pathAndQuery,
    headers: { ...stripHeaders(req.headers), host: `${HOST}:${upstreamPort}` },
  }, (pres) => {
    res.writeHead(pres.statusCode, pres.statusMessage, stripHeaders(pres.headers));
    res.flushHeaders(); // SSE: let the client see headers before the first event
    pres.pipe(res);
    pres.on('error', () => res.destroy());
  });
  preq.on('error', (e) => {
    if (!res.headersSent) json(res, 502, { error: 'bad_gateway', error_description: String(e) });
    else res.destroy();
  });
  // Client hung up (e.g. closed an SSE stream): tear down the upstream leg too.
  res.on('close', () => { if (!res.writableFinished) preq.destroy(); });
  req.pipe(preq);
}

let upstreamPort;
rsHandler = async (req, res) => {
  try {
    const url = new URL(req.url, RS_ORIGIN);
    if (url.pathname === `/.well-known/oauth-protected-resource${MCP_PATH}` || url.pathname === '/.well-known/oauth-protected-resource') {
      return json(res, 200, prm);
    }
    if (!GUARDED.includes(url.pathname)) return json(res, 404, { error: 'not found' });
    stats.rs_requests += 1;
    const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
    if (!m) return challenge(res, 401, undefined);
    // undefined for unknown, expired, revoked or consumed tokens
    const at = await provider.AccessToken.find(m[1]);
    if (!at || at.aud !== RESOURCE) return challenge(res, 401, 'invalid_token');
    if (!String(at.scope ?? '').split(' ').includes(SCOPE)) return challenge(res, 403, 'insufficient_scope');
    return proxy(req, res, upstreamPort, url.pathname + url.search);
  } catch (e) {
    log('RS handler error', e);
    if (!res.headersSent) json(res, 500, { error: 'server_error' });
    else res.destroy();
    return undefined;
  }
};

// ---------------------------------------------------------------- go

try {
  const everything = await startEverything();
  child = everything.proc;
  upstreamPort = everything.port;
} catch (e) {
  log(String(e));
  shutdown('startup failure', 1);
}

if (!shuttingDown) {
  log(`AS ${ISSUER}  RS ${RESOURCE}  upstream server-everything :${upstreamPort}  AT_TTL=${state.atTtl}s${config.interactive ? '  interactive' : ''}`);
  process.stdout.write(`${JSON.stringify({
    event: 'ready',
    issuer: ISSUER,
    resource: RESOURCE,
    prm: PRM_URL,
    as_port: asPort,
    rs_port: rsPort,
    upstream_port: upstreamPort,
    prereg_client_id: config.preregClientId ?? null,
    interactive: config.interactive,
    upstream: config.upstream,
  })}\n`);
}
