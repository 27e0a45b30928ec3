// What runs inside the pattern worker: a schema's `pattern` (hostile, maybe catastrophic) tried
// on one value. Kept free of imports and outer names, so the same functions run in the window's
// Web Worker (pattern.worker.ts) and in a Node worker thread under the tests.

export interface PatternJob {
  pattern: string;
  value: string;
}

export type PatternAnswer = { outcome: 'match' | 'mismatch' | 'invalid' };

/** JSON Schema's `pattern` is an ECMA-262 regular expression, not anchored. */
export function answer(job: PatternJob): PatternAnswer {
  let re: RegExp;
  try {
    re = new RegExp(job.pattern, 'u');
  } catch {
    try {
      re = new RegExp(job.pattern);
    } catch {
      return { outcome: 'invalid' };
    }
  }
  return { outcome: re.test(job.value) ? 'match' : 'mismatch' };
}

/** One job: says it has started (the caller's time limit runs from here), then the answer. */
export function serve(job: PatternJob, post: (message: { started: true } | PatternAnswer) => void): void {
  post({ started: true });
  post(answer(job));
}
