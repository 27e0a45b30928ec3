// Checking a field's `pattern` when the person presses Run, off the window's thread: a hostile
// pattern (catastrophic backtracking, `^(a+)+$` on "aaaa…!") froze the window when it ran here.
// Each pattern runs in its own worker with a time limit; past it the worker is terminated and
// the field says the server will check it instead.
import type { PatternAnswer, PatternJob } from './patternCheck';
import type { Field } from './schema';

/** How long one pattern may run once its worker has started. */
export const PATTERN_LIMIT_MS = 50;
/** How long a worker may take to start at all (a cold one takes a few ms; a broken one never does). */
const START_LIMIT_MS = 2000;

export type PatternOutcome = PatternAnswer['outcome'] | 'unchecked';

/** What `checkPattern` needs of a worker: a DOM `Worker` is one. */
export interface PatternWorker {
  postMessage(job: PatternJob): void;
  onmessage: ((e: { data: unknown }) => void) | null;
  onerror?: ((e: unknown) => void) | null;
  terminate(): void;
}

/** A Web Worker of the app's own (the CSP allows no other), as a `PatternWorker`. */
function webWorker(): PatternWorker {
  const thread = new Worker(new URL('./pattern.worker.ts', import.meta.url), { type: 'module' });
  const worker: PatternWorker = {
    onmessage: null,
    onerror: null,
    postMessage: (job) => thread.postMessage(job),
    terminate: () => thread.terminate(),
  };
  thread.onmessage = (e) => worker.onmessage?.(e);
  thread.onerror = (e) => {
    e.preventDefault();
    worker.onerror?.(e);
  };
  return worker;
}

let spawn: () => PatternWorker = webWorker;

/** Where workers come from (the tests, which run in Node, use its worker threads). */
export function usePatternWorkers(make: () => PatternWorker) {
  spawn = make;
}

/** Runs one pattern on one value in a fresh worker; `unchecked` when it cannot say in time. */
export function checkPattern(job: PatternJob, limitMs = PATTERN_LIMIT_MS): Promise<PatternOutcome> {
  return new Promise((resolve) => {
    let worker: PatternWorker;
    try {
      worker = spawn();
    } catch {
      resolve('unchecked');
      return;
    }
    let timer = setTimeout(() => finish('unchecked'), START_LIMIT_MS);
    function finish(outcome: PatternOutcome) {
      clearTimeout(timer);
      // A worker stuck in a regular expression is stopped here; one that answered is done.
      worker.terminate();
      resolve(outcome);
    }
    worker.onmessage = (e) => {
      const data = e.data as { started: true } | PatternAnswer;
      if ('started' in data) {
        clearTimeout(timer);
        timer = setTimeout(() => finish('unchecked'), limitMs);
      } else {
        finish(data.outcome);
      }
    };
    worker.onerror = () => finish('unchecked');
    worker.postMessage(job);
  });
}

/** The string fields with a pattern and a value to check, by their form path. */
export function patternJobs(fields: Field[], args: Record<string, unknown>, prefix = ''): (PatternJob & { path: string })[] {
  const jobs: (PatternJob & { path: string })[] = [];
  for (const f of fields) {
    const value = args[f.name];
    const path = prefix ? `${prefix}.${f.name}` : f.name;
    if (f.kind === 'string' && f.pattern !== undefined && typeof value === 'string') {
      jobs.push({ path, pattern: f.pattern, value });
    } else if (f.kind === 'object' && typeof value === 'object' && value !== null && !Array.isArray(value)) {
      jobs.push(...patternJobs(f.fields, value as Record<string, unknown>, path));
    }
  }
  return jobs;
}

export const UNCHECKED = 'could not check this pattern in time; the server will check it';

/** How many workers check patterns at once. */
const AT_ONCE = 4;
/** How many patterns one Run checks; a form with more leaves the rest to the server. */
export const MAX_PATTERNS = 64;
/** The longest pattern, or value, checked here. */
const MAX_TEXT = 4096;

/** A pattern shown in a message: long ones cut. */
export function shownPattern(pattern: string): string {
  return pattern.length > 120 ? `${pattern.slice(0, 119)}…` : pattern;
}

/**
 * Checks every pattern of `fields` against `args`, in parallel: `errors` for values that do not
 * match (the run waits for them to be fixed), `notes` for patterns that could not be checked (the
 * run goes ahead; the server checks them).
 */
export async function checkPatterns(
  fields: Field[],
  args: Record<string, unknown>,
): Promise<{ errors: Record<string, string>; notes: Record<string, string> }> {
  const jobs = patternJobs(fields, args);
  // A schema is the server's: it may hold thousands of patterns. A few workers at a time, and
  // only so many patterns (and only so long) per Run; the rest the server checks.
  const outcomes: PatternOutcome[] = jobs.map(() => 'unchecked');
  const checkable = jobs
    .map((job, i) => ({ job, i }))
    .filter(({ job }) => job.pattern.length <= MAX_TEXT && job.value.length <= MAX_TEXT)
    .slice(0, MAX_PATTERNS);
  let next = 0;
  async function worker() {
    while (next < checkable.length) {
      const { job, i } = checkable[next++];
      outcomes[i] = await checkPattern({ pattern: job.pattern, value: job.value });
    }
  }
  await Promise.all(Array.from({ length: Math.min(AT_ONCE, checkable.length) }, worker));
  const errors: Record<string, string> = {};
  const notes: Record<string, string> = {};
  jobs.forEach((job, i) => {
    if (outcomes[i] === 'mismatch') errors[job.path] = `does not match the pattern ${shownPattern(job.pattern)}`;
    else if (outcomes[i] === 'invalid') notes[job.path] = 'this pattern cannot be read here; the server will check it';
    else if (outcomes[i] === 'unchecked') notes[job.path] = UNCHECKED;
  });
  return { errors, notes };
}
