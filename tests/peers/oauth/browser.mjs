// A scripted browser for tests: opens an authorization URL, signs in and consents through the
// HTML pages that server.mjs serves in interactive mode, and follows the final redirect to the
// client's loopback callback (delivering the code there), like a person with a browser would.
//
//   node browser.mjs URL [--user test-user] [--password test-password] [--deny]
//
// It keeps cookies, follows redirects by hand, and on each HTML page finds the form to submit
// (the first one, or the "abort" one with --deny), fills `username` and the password field, and
// posts it. It only ever talks to loopback addresses.
//
// stdout: one JSON line per step, without query strings (they carry codes):
//   {"event":"page","status":200,"path":"/interaction/x","title":"Sign in"}
//   {"event":"submit","action":"/interaction/x/login","fields":["username","password"]}
//   {"event":"callback","status":200,"origin":"http://127.0.0.1:P","path":"/callback","title":"Logged in — Patchbay","text":"..."}
//   {"event":"error","message":"...","page_error":"Wrong username or password."}
// Exit 0 when the callback page answered 2xx, 1 otherwise.

import { pathToFileURL } from 'node:url';
import { CookieJar } from './get-tokens.mjs';

const emit = (obj) => process.stdout.write(`${JSON.stringify(obj)}\n`);

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

const decodeEntities = (s) => s
  .replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#39;/g, "'")
  .replace(/&#(\d+);/g, (_, n) => String.fromCodePoint(Number(n)))
  .replace(/&amp;/g, '&');

// Attributes of one start tag: name -> value (entities decoded).
function attributes(tag) {
  const out = {};
  const re = /([a-zA-Z_:][-a-zA-Z0-9_:.]*)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?/g;
  const inner = tag.replace(/^<\s*[a-zA-Z]+/, '').replace(/\/?>$/, '');
  for (const m of inner.matchAll(re)) out[m[1].toLowerCase()] = decodeEntities(m[2] ?? m[3] ?? m[4] ?? '');
  return out;
}

const text = (html) => decodeEntities(html.replace(/<[^>]*>/g, ' ')).replace(/\s+/g, ' ').trim();

// The simple HTML that server.mjs (and Patchbay's callback) serve: title, error, forms.
export function parsePage(html) {
  const title = /<title[^>]*>([\s\S]*?)<\/title>/i.exec(html);
  const error = /<[a-z]+[^>]*class="[^"]*\berror\b[^"]*"[^>]*>([\s\S]*?)<\/[a-z]+>/i.exec(html);
  const forms = [];
  for (const m of html.matchAll(/(<form\b[^>]*>)([\s\S]*?)<\/form>/gi)) {
    const attrs = attributes(m[1]);
    const inputs = [...m[2].matchAll(/<input\b[^>]*>/gi)].map((i) => attributes(i[0]));
    forms.push({ action: attrs.action ?? '', method: (attrs.method ?? 'get').toLowerCase(), inputs });
  }
  return {
    title: title ? text(title[1]) : '',
    error: error ? text(error[1]) : undefined,
    forms,
    text: text(html.replace(/<(title|style|script)[^>]*>[\s\S]*?<\/\1>/gi, '')),
  };
}

function checkLoopback(url) {
  if (url.protocol !== 'http:' || !LOOPBACK.has(url.hostname)) {
    throw new Error(`refusing to visit ${url.origin}: this test browser only talks to loopback http`);
  }
}

export async function browse(startUrl, { user = 'test-user', password = 'test-password', deny = false, maxSteps = 30 } = {}) {
  const jar = new CookieJar();
  const start = new URL(startUrl);
  checkLoopback(start);
  let request = { url: start, method: 'GET', body: undefined };
  for (let step = 0; step < maxSteps; step++) {
    const { url, method, body } = request;
    checkLoopback(url);
    const headers = {};
    const cookie = jar.header();
    if (cookie) headers.cookie = cookie;
    if (body !== undefined) headers['content-type'] = 'application/x-www-form-urlencoded';
    const r = await fetch(url, { method, body, headers, redirect: 'manual' });
    jar.absorb(r);
    const location = r.headers.get('location');
    if (r.status >= 300 && r.status < 400 && location) {
      await r.arrayBuffer().catch(() => {});
      // A browser turns a redirected POST into a GET (303, and 301/302 in practice).
      request = { url: new URL(location, url), method: 'GET', body: undefined };
      continue;
    }
    const html = await r.text();
    const page = parsePage(html);
    const where = { status: r.status, path: url.pathname, title: page.title };
    if (url.origin !== start.origin) {
      // Left the authorization server: this is the client's callback page.
      emit({ event: 'callback', ...where, origin: url.origin, text: page.text });
      return r.ok;
    }
    emit({ event: 'page', ...where });
    if (page.error !== undefined) {
      emit({ event: 'error', message: `the page at ${url.pathname} shows an error`, page_error: page.error, status: r.status });
      return false;
    }
    const forms = page.forms.filter((f) => f.action.endsWith('/abort') === deny);
    const form = forms[0];
    if (!form) {
      const excerpt = page.text.slice(0, 300);
      emit({ event: 'error', message: `no form to submit at ${url.pathname} (HTTP ${r.status})`, page_text: excerpt });
      return false;
    }
    const fields = new URLSearchParams();
    for (const input of form.inputs) {
      if (!input.name || ['submit', 'button', 'image', 'reset'].includes(input.type)) continue;
      if (input.type === 'password') fields.set(input.name, password);
      else if (['username', 'login', 'email'].includes(input.name)) fields.set(input.name, user);
      else fields.set(input.name, input.value ?? '');
    }
    const action = new URL(form.action || url.href, url);
    emit({ event: 'submit', action: action.pathname, fields: [...fields.keys()] });
    request = form.method === 'post'
      ? { url: action, method: 'POST', body: fields.toString() }
      : { url: new URL(`${action.origin}${action.pathname}?${fields}`), method: 'GET', body: undefined };
  }
  emit({ event: 'error', message: `more than ${maxSteps} steps without reaching the callback` });
  return false;
}

function parseArgs(argv) {
  const out = {};
  let url;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--deny') out.deny = true;
    else if (a === '--user' || a === '--password') {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      out[a.slice(2)] = v;
    } else if (!a.startsWith('--') && url === undefined) url = a;
    else throw new Error(`unknown argument ${a}`);
  }
  if (!url) throw new Error('usage: browser.mjs URL [--user U] [--password P] [--deny]');
  return { url, ...out };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  try {
    const { url, ...opts } = parseArgs(process.argv.slice(2));
    process.exitCode = (await browse(url, opts)) ? 0 : 1;
  } catch (e) {
    emit({ event: 'error', message: String(e.message ?? e) });
    process.exitCode = 1;
  }
}
