// What went wrong, in one plain sentence that says what to do; the engine's whole message (the
// chain of causes) stays behind "Details". The engine's messages name the server and the cause,
// but a cause from deep in the network stack reads like Rust internals; this turns the common
// ones into words a person can act on.

export type ErrorKind =
  | 'refused'
  | 'dns'
  | 'tls'
  | 'timeout'
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'server_failed'
  | 'command_not_found'
  | 'exited'
  | 'bad_json'
  | 'other';

export interface Explained {
  kind: ErrorKind;
  /** One sentence: what happened, and what to do. */
  sentence: string;
  /** The engine's message, whole. */
  details: string;
}

/** Where the server is, when known: its URL (remote) or its command (local). */
export interface Where {
  url?: string | null;
  command?: string | null;
}

/** How much of a message is read to classify it: the engine's own words come first. */
const READ = 4096;

export function explain(message: string, where: Where = {}): Explained {
  const details = message.trim();
  const said = (kind: ErrorKind, sentence: string): Explained => ({ kind, sentence, details });
  // Only what Patchbay wrote picks the sentence: text a server sent (a refusal, its last line
  // of output) is quoted, never read for "401" or "certificate" that would speak in our voice.
  const m = ours(details.slice(0, READ));
  const address = hostPort(where.url) ?? /\b((?:\d{1,3}\.){3}\d{1,3}:\d+|\[[0-9a-f:]+\]:\d+|localhost:\d+)\b/i.exec(m)?.[1];
  const host = hostOf(where.url) ?? address?.replace(/:\d+$/, '');

  let found: RegExpExecArray | null;
  // Before anything else: the rest of the line is the server's own output.
  if ((found = /(exited with status -?\d{1,6}|was killed by signal \d{1,3})(?::\s*([^\n]{1,400}))?/i.exec(details.slice(0, READ)))) {
    const last = found[2]?.trim();
    return said('exited', `The server ${found[1]}${last ? `, saying “${shorten(last, 120)}”` : ''} — its output is under Details.`);
  }
  if (/refused the call to '/.test(m)) return said('other', sentence(plain(m)));
  if ((found = /command '([^']{1,300})' was not found/i.exec(m))) {
    return said('command_not_found', `The program “${found[1]}” was not found — check the command, or give its full path.`);
  }
  if (/connection refused|os error 111|econnrefused/i.test(m)) {
    return said('refused', `Nothing is listening on ${address ?? 'that address'} — is the server running?`);
  }
  if (/dns error|failed to lookup address|name or service not known|no such host|temporary failure in name resolution|nodename nor servname/i.test(m)) {
    return said('dns', `${host ? `“${host}”` : 'That host'} could not be found — check the address for a typo, or your network.`);
  }
  if (/certificate|\btls\b|\bssl\b|unknownissuer|invalid peer certificate/i.test(m)) {
    return said('tls', `The secure connection${host ? ` to ${host}` : ''} failed (its certificate or TLS) — check the address (https or http?) and the server's certificate.`);
  }
  const status = httpStatus(m);
  if (status === 401) return said('unauthorized', 'The server wants a login (401) — log in, then try again.');
  if (status === 403) return said('forbidden', 'The server refused access (403) — your login may lack a permission; ask its administrator.');
  if (status === 404) return said('not_found', 'Nothing is at that address (404) — check the URL’s path (it often ends in /mcp).');
  if (status !== null && status >= 500) return said('server_failed', `The server failed (HTTP ${status}) — its own logs say why; try again later.`);
  if (/timed out|did not answer .{0,200}? within|deadline has elapsed|no answer within/i.test(m)) {
    return said('timeout', 'The server did not answer in time — it may be busy or stuck; try again, or give it a longer request timeout.');
  }
  if (/not mcp on stdout|expected value at line|invalid json|eof while parsing|unexpected character/i.test(m)) {
    return said('bad_json', 'The server sent something that is not MCP — a local server must print only MCP messages on its standard output.');
  }
  return said('other', sentence(plain(m)));
}

/** HTTP status from a message that names it as one (a bare number could be a port). */
function httpStatus(m: string): number | null {
  const found =
    /\b(?:status(?: code)?|http(?:\/[\d.]+)?)\D{0,12}?\b([1-5]\d\d)\b/i.exec(m) ??
    /\b([45]\d\d) (?:Unauthorized|Forbidden|Not Found|Method Not Allowed|Internal Server Error|Bad Gateway|Service Unavailable|Gateway Timeout)\b/i.exec(m);
  return found ? Number(found[1]) : null;
}

function hostPort(url?: string | null): string | undefined {
  if (!url) return undefined;
  try {
    const u = new URL(url);
    const port = u.port || (u.protocol === 'https:' ? '443' : u.protocol === 'http:' ? '80' : '');
    return port ? `${u.hostname}:${port}` : u.hostname;
  } catch {
    return undefined;
  }
}

function hostOf(url?: string | null): string | undefined {
  try {
    return url ? new URL(url).hostname : undefined;
  } catch {
    return undefined;
  }
}

/** The part of a message Patchbay wrote: up to where it quotes what the server said. */
function ours(m: string): string {
  const quoted = m.search(/refused the call to '[^']{0,200}': |JSON-RPC error: /);
  return quoted < 0 ? m : m.slice(0, quoted + 40);
}

/** Drops what only Rust's insides say: type paths in brackets, and wrapper words. (Bounded
 * patterns: a message may be long and hostile.) */
function plain(m: string): string {
  return m
    .slice(0, READ)
    .replace(/\[[^\][]{0,300}::[^\][]{0,300}\]/g, '')
    .replace(/\b\w{1,80}(?:::[\w<>]{1,80}){1,20}(?:<[^>]{0,300}>)?/g, '')
    .replace(/\s{2,}/g, ' ')
    .trim();
}

function sentence(text: string): string {
  const t = shorten(text, 240);
  if (!t) return 'Something went wrong — the details say what.';
  const s = t[0].toUpperCase() + t.slice(1);
  return /[.!?…]$/.test(s) ? s : `${s}.`;
}

function shorten(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
