import { beforeAll, describe, expect, it } from 'vitest';
import { nodePatternWorker } from '../test/worker';
import { checkPattern, checkPatterns, MAX_PATTERNS, PATTERN_LIMIT_MS, type PatternWorker, usePatternWorkers } from './patterns';
import { formFor } from './schema';

// Real worker threads running the window's worker code; nothing stands in for the check.
beforeAll(() => usePatternWorkers(nodePatternWorker));

describe('checking a pattern off the window’s thread', () => {
  it('says whether a value matches (JSON Schema patterns are not anchored)', async () => {
    expect(await checkPattern({ pattern: '^[a-z]+$', value: 'abc' })).toBe('match');
    expect(await checkPattern({ pattern: '^[a-z]+$', value: 'ABC' })).toBe('mismatch');
    expect(await checkPattern({ pattern: '[0-9]', value: 'a1b' })).toBe('match');
    expect(await checkPattern({ pattern: '(unclosed', value: 'x' })).toBe('invalid');
  });

  it('stops a catastrophic pattern at the time limit and says it could not check it', async () => {
    const started = performance.now();
    const outcome = await checkPattern({ pattern: '^(a+)+$', value: `${'a'.repeat(40)}!` });
    const took = performance.now() - started;
    expect(outcome).toBe('unchecked');
    // Run to the end, this backtracks for days; the worker was stopped instead (the bound is
    // loose: a worker thread takes a moment to start before the 50 ms begin).
    expect(took).toBeGreaterThanOrEqual(PATTERN_LIMIT_MS);
    expect(took).toBeLessThan(2000);
  });

  it('puts a mismatch at its field, and an unchecked pattern as a note that lets the run go on', async () => {
    const fields = formFor({
      type: 'object',
      properties: {
        code: { type: 'string', pattern: '^[a-z]+$' },
        evil: { type: 'string', pattern: '^(a+)+$' },
        inner: { type: 'object', properties: { id: { type: 'string', pattern: '^id-' } } },
        free: { type: 'string' },
      },
    })!;
    const checked = await checkPatterns(fields, { code: 'AB', evil: `${'a'.repeat(40)}!`, inner: { id: 'id-7' }, free: 'x' });
    expect(checked).toEqual({
      errors: { code: 'does not match the pattern ^[a-z]+$' },
      notes: { evil: 'could not check this pattern in time; the server will check it' },
    });
  });

  it('checks a server’s thousand patterns a few workers at a time, and leaves the rest to the server', async () => {
    // Real workers, counted: how many are alive at once.
    let alive = 0;
    let most = 0;
    usePatternWorkers((): PatternWorker => {
      const worker = nodePatternWorker();
      alive += 1;
      most = Math.max(most, alive);
      const terminate = worker.terminate;
      worker.terminate = () => {
        alive -= 1;
        terminate();
      };
      return worker;
    });
    try {
      const properties: Record<string, unknown> = {};
      const args: Record<string, string> = {};
      for (let i = 0; i < 1000; i++) {
        properties[`f${i}`] = { type: 'string', pattern: '^[a-z]+$' };
        args[`f${i}`] = 'ABC';
      }
      const checked = await checkPatterns(formFor({ type: 'object', properties })!, args);
      expect(most).toBeLessThanOrEqual(4);
      expect(Object.keys(checked.errors)).toHaveLength(MAX_PATTERNS);
      expect(Object.keys(checked.notes)).toHaveLength(1000 - MAX_PATTERNS);
    } finally {
      usePatternWorkers(nodePatternWorker);
    }
  });
});
