// Headless "browser + client" for tests: obtains a real first credential from
// the test authorization server (server.mjs) with DCR + authorization code +
// PKCE, following the auto-approved interaction redirects with a cookie jar.
//
//   node get-tokens.mjs --issuer URL --resource URL [--scope mcp]
//       [--client-id ID --client-secret SECRET] [--redirect-uri URI]
//
// Prints one JSON line: {client_id, access_token, refresh_token, expires_in,
// scope, issuer, token_endpoint, revocation_endpoint, ...}. Exit 1 on failure.
// Also importable: `import { getTokens } from './get-tokens.mjs'`.

import crypto from 'node:crypto';
import http from 'node:http';
import { pathToFileURL } from 'node:url';

async function freeLoopbackPort() {
  const s = http.createServer();
  await new Promise((resolve, reject) => s.once('error', reject).listen(0, '127.0.0.1', resolve));
  const { port } = s.address();
  await new Promise((resolve) => s.close(resolve));
  return port;
}

// Minimal cookie jar: name -> value, honours deletion. Cookie paths are
// ignored; oidc-provider's cookie names do not clash within one flow.
export class CookieJar {
  #cookies = new Map();

  absorb(response) {
    for (const line of response.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = attrs.some((a) => {
        const [k, v = ''] = a.split('=').map((x) => x.trim());
        if (k.toLowerCase() === 'max-age') return Number(v) <= 0;
        if (k.toLowerCase() === 'expires') return Date.parse(v) <= Date.now();
        return false;
      });
      if (expired || value === '') this.#cookies.delete(name);
      else this.#cookies.set(name, value);
    }
  }

  header() {
    return [...this.#cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }
}

async function jsonOrThrow(response, what) {
  const text = await response.text();
  let body;
  try { body = JSON.parse(text); } catch { body = undefined; }
  if (!response.ok || body === undefined) {
    throw new Error(`${what} failed: HTTP ${response.status} ${text.slice(0, 500)}`);
  }
  return body;
}

export async function getTokens({ issuer, resource, scope = 'mcp', clientId, clientSecret, redirectUri }) {
  if (!issuer || !resource) throw new Error('issuer and resource are required');
  const meta = await jsonOrThrow(
    await fetch(new URL('/.well-known/oauth-authorization-server', issuer)),
    'authorization server metadata',
  );
  if (meta.issuer !== issuer) throw new Error(`issuer mismatch: metadata says ${meta.issuer}`);

  redirectUri ??= `http://127.0.0.1:${await freeLoopbackPort()}/callback`;

  if (!clientId) {
    const reg = await jsonOrThrow(await fetch(meta.registration_endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        client_name: 'patchbay-test-get-tokens',
        application_type: 'native',
        redirect_uris: [redirectUri],
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        token_endpoint_auth_method: 'none',
        scope,
      }),
    }), 'dynamic client registration');
    clientId = reg.client_id;
  }

  const verifier = crypto.randomBytes(32).toString('base64url');
  const challenge = crypto.createHash('sha256').update(verifier).digest('base64url');
  const state = crypto.randomBytes(16).toString('base64url');

  const authUrl = new URL(meta.authorization_endpoint);
  for (const [k, v] of Object.entries({
    response_type: 'code',
    client_id: clientId,
    redirect_uri: redirectUri,
    scope,
    state,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    resource,
  })) authUrl.searchParams.set(k, v);

  // Follow redirects by hand until one points at redirect_uri.
  const jar = new CookieJar();
  let url = authUrl.href;
  let callback;
  for (let hop = 0; hop < 20 && !callback; hop++) {
    const cookie = jar.header();
    const r = await fetch(url, { redirect: 'manual', headers: cookie ? { cookie } : {} });
    jar.absorb(r);
    const location = r.headers.get('location');
    if (r.status < 300 || r.status >= 400 || !location) {
      throw new Error(`authorization flow stopped at ${url}: HTTP ${r.status} ${(await r.text()).slice(0, 500)}`);
    }
    await r.arrayBuffer().catch(() => {});
    const next = new URL(location, url);
    if (next.origin + next.pathname === new URL(redirectUri).origin + new URL(redirectUri).pathname) callback = next;
    else url = next.href;
  }
  if (!callback) throw new Error('too many redirects in authorization flow');

  const p = callback.searchParams;
  if (p.get('error')) throw new Error(`authorization error: ${p.get('error')} ${p.get('error_description') ?? ''}`);
  if (p.get('state') !== state) throw new Error('state mismatch in callback');
  if (p.get('iss') !== null && p.get('iss') !== issuer) throw new Error(`iss mismatch in callback: ${p.get('iss')}`);
  const code = p.get('code');
  if (!code) throw new Error(`no code in callback ${callback.href}`);

  const headers = { 'content-type': 'application/x-www-form-urlencoded' };
  const form = new URLSearchParams({
    grant_type: 'authorization_code',
    code,
    redirect_uri: redirectUri,
    code_verifier: verifier,
    resource,
  });
  if (clientSecret) {
    const enc = encodeURIComponent;
    headers.authorization = `Basic ${Buffer.from(`${enc(clientId)}:${enc(clientSecret)}`).toString('base64')}`;
  } else {
    form.set('client_id', clientId);
  }
  const tok = await jsonOrThrow(await fetch(meta.token_endpoint, { method: 'POST', headers, body: form }), 'token exchange');

  return {
    client_id: clientId,
    access_token: tok.access_token,
    refresh_token: tok.refresh_token ?? null,
    expires_in: tok.expires_in,
    scope: tok.scope,
    token_type: tok.token_type,
    issuer,
    resource,
    redirect_uri: redirectUri,
    token_endpoint: meta.token_endpoint,
    revocation_endpoint: meta.revocation_endpoint ?? null,
  };
}

function parseArgs(argv) {
  const names = { '--issuer': 'issuer', '--resource': 'resource', '--scope': 'scope', '--client-id': 'clientId', '--client-secret': 'clientSecret', '--redirect-uri': 'redirectUri' };
  const out = {};
  for (let i = 0; i < argv.length; i++) {
    let [flag, value] = argv[i].split(/=(.*)/s);
    if (!(flag in names)) throw new Error(`unknown argument ${flag}`);
    if (value === undefined) value = argv[++i];
    if (value === undefined) throw new Error(`${flag} needs a value`);
    out[names[flag]] = value;
  }
  return out;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  try {
    const result = await getTokens(parseArgs(process.argv.slice(2)));
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } catch (e) {
    console.error(`get-tokens: ${e.message}`);
    process.exit(1);
  }
}
