// Real workers for the component tests, which run in Node (no DOM Worker there): a Node worker
// thread running the very functions the window's pattern worker runs (patternCheck.ts, which
// has no imports, so its source runs as it is).
import { answer, serve } from '../lib/patternCheck';
import type { PatternWorker } from '../lib/patterns';

interface NodeWorker {
  postMessage(message: unknown): void;
  on(event: 'message' | 'error', listener: (data: unknown) => void): void;
  terminate(): Promise<number>;
}
type NodeWorkerClass = new (code: string, options: { eval: true }) => NodeWorker;

// Named as a string: the UI's type check knows no Node modules.
const threads = 'node:worker_threads';
const { Worker } = (await import(/* @vite-ignore */ threads)) as { Worker: NodeWorkerClass };

export function nodePatternWorker(): PatternWorker {
  const thread = new Worker(
    `const answer = ${answer.toString()};
     const serve = ${serve.toString()};
     const { parentPort } = require('node:worker_threads');
     parentPort.on('message', (job) => serve(job, (m) => parentPort.postMessage(m)));`,
    { eval: true },
  );
  const worker: PatternWorker = {
    onmessage: null,
    onerror: null,
    postMessage: (job) => thread.postMessage(job),
    terminate: () => void thread.terminate(),
  };
  thread.on('message', (data) => worker.onmessage?.({ data }));
  thread.on('error', (e) => worker.onerror?.(e));
  return worker;
}
