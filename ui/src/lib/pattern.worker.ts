// The window's pattern worker: one job, then it is terminated (see patterns.ts).
import { serve, type PatternJob } from './patternCheck';

self.onmessage = (e: MessageEvent<PatternJob>) => serve(e.data, (m) => self.postMessage(m));
