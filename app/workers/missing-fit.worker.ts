// PPCA with missing values (fitPpcaMissing: host float64 EM over the observed
// entries, ~0.2 s per iteration for 2,000 MNIST rows) off the main thread: one
// request per tick, the rows sent with it.
import { fitPpcaMissing, type MissingFitResult, type PpcaParams } from '../../src/browser.ts';

export interface MissingFitRequest {
  x: Float32Array;
  n: number;
  D: number;
  name: string;
  d: number;
  iters: number;
  tol?: number;
  seed?: number;
  init?: PpcaParams;
}
export type MissingFitReply = { result: MissingFitResult } | { error: string };

self.onmessage = (ev: MessageEvent<MissingFitRequest>) => {
  const { x, n, D, name, d, iters, tol, seed, init } = ev.data;
  let reply: MissingFitReply;
  try {
    reply = { result: fitPpcaMissing({ name, x, n, D }, d, { iters, ...(tol === undefined ? {} : { tol }), ...(seed === undefined ? {} : { seed }), ...(init ? { init } : {}) }) };
  } catch (e) {
    reply = { error: (e as Error).message };
  }
  (self as unknown as Worker).postMessage(reply);
};
