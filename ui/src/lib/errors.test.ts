import { describe, expect, it } from 'vitest';
import { explain } from './errors';

// Messages as the engine writes them (taken from real runs against closed ports, missing hosts
// and programs, and a crashing server).
const rmcp = 'Send message error Transport [rmcp::transport::worker::WorkerTransport<rmcp::transport::streamable_http_client::StreamableHttpClientWorker<patchbay_engine::transport::authorized::AuthorizedHttp>>] error: Client error: error sending request for url (http://127.0.0.1:9/mcp), when send initialize request';

describe('explain', () => {
  it('says nothing is listening on a closed port, with its address', () => {
    const e = explain("server 'closed': cannot reach http://127.0.0.1:9/mcp: error sending request for url (http://127.0.0.1:9/mcp): client error (Connect): tcp connect error: Connection refused (os error 111)", {
      url: 'http://127.0.0.1:9/mcp',
    });
    expect(e.kind).toBe('refused');
    expect(e.sentence).toBe('Nothing is listening on 127.0.0.1:9 — is the server running?');
    expect(e.details).toContain('os error 111');
  });

  it('finds the address in the message when the caller does not know it', () => {
    expect(explain('tcp connect error: Connection refused (os error 111) 10.0.0.5:8080').sentence).toContain('10.0.0.5:8080');
  });

  it('names a host that does not resolve, a TLS failure, and a timeout', () => {
    expect(explain('error sending request: client error (Connect): dns error: failed to lookup address information: Name or service not known', { url: 'https://no-such-host.invalid/mcp' })).toMatchObject({
      kind: 'dns',
      sentence: '“no-such-host.invalid” could not be found — check the address for a typo, or your network.',
    });
    expect(explain('client error (Connect): invalid peer certificate: UnknownIssuer', { url: 'https://self-signed.test/mcp' }).kind).toBe('tls');
    expect(explain("server 'slow' did not answer the MCP handshake within 30s").kind).toBe('timeout');
  });

  it('reads HTTP statuses only where the message calls them one', () => {
    expect(explain('Unexpected server response: HTTP status 404 Not Found').kind).toBe('not_found');
    expect(explain('status code: 401').kind).toBe('unauthorized');
    expect(explain('403 Forbidden').kind).toBe('forbidden');
    expect(explain('HTTP 502 Bad Gateway').sentence).toBe('The server failed (HTTP 502) — its own logs say why; try again later.');
    // A port is not a status.
    expect(explain('cannot reach http://127.0.0.1:404/mcp: something odd').kind).toBe('other');
  });

  it('says which program is missing, and how a local server stopped with its last words', () => {
    expect(explain("server 'nocmd': command 'definitely-not-a-cmd' was not found; check the command and PATH").sentence).toBe(
      'The program “definitely-not-a-cmd” was not found — check the command, or give its full path.',
    );
    expect(explain("server 'x' exited with status 1: Error: Cannot find module 'foo'")).toMatchObject({
      kind: 'exited',
      sentence: 'The server exited with status 1, saying “Error: Cannot find module \'foo\'” — its output is under Details.',
    });
    expect(explain("server 'victim' was killed by signal 9").kind).toBe('exited');
  });

  it('says when a server spoke something that is not MCP', () => {
    expect(explain("server 'x' did not answer the MCP handshake within 5s; it printed text that is not MCP on stdout (hello)").kind).toBe('timeout');
    expect(explain('the MCP handshake failed: expected value at line 1 column 1').kind).toBe('bad_json');
  });

  it('keeps anything else as one sentence without Rust type paths, the whole kept for Details', () => {
    const e = explain(`server 'closed': cannot reach http://127.0.0.1:9/mcp: ${rmcp}`);
    expect(e.kind).toBe('other');
    expect(e.sentence).not.toContain('rmcp::');
    expect(e.sentence).toMatch(/^Server 'closed': cannot reach/);
    expect(e.sentence).toMatch(/\.$/);
    expect(e.details).toContain('rmcp::transport');
  });

  it('lets no server words speak in its voice, and reads a huge hostile message quickly', () => {
    // A refusal that quotes "401" and "certificate" is the server's text, not our diagnosis.
    const refusal = explain("server 'x' refused the call to 'echo': status 401: bad certificate");
    expect(refusal.kind).toBe('other');
    // The last line a crashed server printed is quoted, whatever it says.
    expect(explain("server 'x' exited with status 2: command 'rm' was not found").kind).toBe('exited');
    // Bounded work on a message a hostile server padded (quadratic patterns would take minutes).
    const padded = explain(`server 'x': the MCP handshake failed: JSON-RPC error: ${'['.repeat(400_000)}`);
    expect(padded.details.length).toBeGreaterThan(400_000);
    expect(padded.sentence.length).toBeLessThan(260);
  });
});
