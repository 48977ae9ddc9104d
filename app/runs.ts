// How the page builds its runs (createRun / loadRun of the library): the PPCA
// closed-form optimum computed in a Web Worker, likelihood messages naming the
// page's control, and the data's metadata saved with the model.
import type { Dataset, ModelRunOptions } from '../src/browser.ts';
import type { AppData } from './data.ts';
import type { ClosedFormReply, ClosedFormRequest } from './workers/closed-form.worker.ts';

/** How the setup panel asks for the Gaussian decoder, for the likelihood messages. */
export const APP_HINT = { gaussian: 'likelihood: Gaussian' };

/** The closed-form optimum (~1 s for D = 784) off the main thread; undefined when the worker fails. */
function closedFormOptimum(train: Dataset, d: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const worker = new Worker(new URL('./workers/closed-form.worker.ts', import.meta.url), { type: 'module' });
    worker.onmessage = (ev: MessageEvent<ClosedFormReply>) => {
      worker.terminate();
      resolve('loglik' in ev.data ? ev.data.loglik : undefined);
    };
    worker.onerror = () => {
      worker.terminate();
      resolve(undefined);
    };
    const req: ClosedFormRequest = { host: train.x.slice(), n: train.n, D: train.D, d };
    worker.postMessage(req, [req.host.buffer]);
  });
}

/** The page's options for a run on `data`. */
export function runOptions(data: AppData): ModelRunOptions {
  return { metadata: data.metadata, optimum: closedFormOptimum, likelihoodHint: APP_HINT };
}
