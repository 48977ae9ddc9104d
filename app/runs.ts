// How the page builds its runs (createRun / loadRun of the library): the PPCA
// closed-form optimum computed in a Web Worker,
// likelihood messages naming the page's control, and the data's metadata saved
// with the model.
import type { Dataset, ModelRunOptions } from '../src/browser.ts';
import type { AppData } from './data.ts';
import type { ClosedFormReply, ClosedFormRequest } from './workers/closed-form.worker.ts';

/** How the setup panel asks for the Gaussian decoder, for the likelihood messages. */
export const APP_HINT = { gaussian: 'likelihood: Gaussian' };

/** Posts one request to a fresh worker and resolves with its one reply (the worker then ends); rejects when the worker fails to run. */
export function askWorker<Req, Reply>(worker: Worker, req: Req, transfer: Transferable[] = []): Promise<Reply> {
  return new Promise((resolve, reject) => {
    worker.onmessage = (ev: MessageEvent<Reply>) => {
      worker.terminate();
      resolve(ev.data);
    };
    worker.onerror = (ev) => {
      worker.terminate();
      reject(new Error(`a Web Worker failed: ${ev.message || 'no message'}`));
    };
    worker.postMessage(req, transfer);
  });
}

/** The closed-form optimum (~1 s for D = 784) off the main thread; undefined when the worker fails. */
async function closedFormOptimum(train: Dataset, d: number): Promise<number | undefined> {
  const req: ClosedFormRequest = { host: train.x.slice(), n: train.n, D: train.D, d };
  const worker = new Worker(new URL('./workers/closed-form.worker.ts', import.meta.url), { type: 'module' });
  try {
    const reply = await askWorker<ClosedFormRequest, ClosedFormReply>(worker, req, [req.host.buffer]);
    return 'loglik' in reply ? reply.loglik : undefined;
  } catch {
    return undefined;
  }
}

/** The page's options for a run on `data`. */
export function runOptions(data: AppData): ModelRunOptions {
  return { metadata: data.metadata, optimum: closedFormOptimum, likelihoodHint: APP_HINT, ...(data.source ? { trainSource: data.source } : {}) };
}
