// The closed-form PPCA optimum (an eigen-decomposition of the D×D sample
// covariance, ~1 s for MNIST's D = 784) off the main thread.
import { closedFormPpca } from '../../src/browser.ts';

export interface ClosedFormRequest { host: Float32Array; n: number; D: number; d: number }
export type ClosedFormReply = { loglik: number; sigma2: number } | { error: string };

self.onmessage = (ev: MessageEvent<ClosedFormRequest>) => {
  const { host, n, D, d } = ev.data;
  let reply: ClosedFormReply;
  try {
    const r = closedFormPpca({ host, n, D }, d);
    reply = { loglik: r.loglik, sigma2: r.sigma2 };
  } catch (e) {
    reply = { error: (e as Error).message };
  }
  (self as unknown as Worker).postMessage(reply);
};
