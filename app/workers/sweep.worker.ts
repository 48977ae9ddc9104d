// The PPCA sweep over d (ppcaSweep: one full eigendecomposition of the D×D
// covariance on the host, ~10 s for MNIST's D = 784) off the main thread.
import { ppcaSweep, type PpcaSweep } from '../../src/browser.ts';

export interface SweepRequest {
  train: { x: Float32Array; n: number; D: number; name: string };
  test: { x: Float32Array; n: number; D: number };
  dMin: number;
  dMax: number;
}
export type SweepReply = { sweep: PpcaSweep } | { error: string };

self.onmessage = (ev: MessageEvent<SweepRequest>) => {
  const { train, test, dMin, dMax } = ev.data;
  let reply: SweepReply;
  try {
    reply = { sweep: ppcaSweep({ name: train.name, host: train.x, n: train.n, D: train.D }, { host: test.x, n: test.n, D: test.D }, dMin, dMax) };
  } catch (e) {
    reply = { error: (e as Error).message };
  }
  (self as unknown as Worker).postMessage(reply);
};
