// How the page builds its runs (createRun / loadRun of the library): the PPCA
// closed-form optimum and the missing-values EM computed in Web Workers,
// likelihood messages naming the page's control, and the data's metadata saved
// with the model.
import type { Dataset, MissingData, MissingFitOptions, MissingFitResult, ModelRunOptions } from '../src/browser.ts';
import type { AppData } from './data.ts';
import type { ClosedFormReply, ClosedFormRequest } from './workers/closed-form.worker.ts';
import type { MissingFitReply, MissingFitRequest } from './workers/missing-fit.worker.ts';

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

/** fitPpcaMissing in a Web Worker (its iterations take ~0.2 s each on MNIST); errors come back as the library's message. */
async function fitMissingInWorker(data: MissingData, d: number, opts: MissingFitOptions): Promise<MissingFitResult> {
  const req: MissingFitRequest = { x: data.x.slice(), n: data.n, D: data.D, name: data.name ?? 'data', d, iters: opts.iters ?? 200 };
  if (opts.tol !== undefined) req.tol = opts.tol;
  if (opts.seed !== undefined) req.seed = opts.seed;
  if (opts.init) req.init = opts.init;
  const worker = new Worker(new URL('./workers/missing-fit.worker.ts', import.meta.url), { type: 'module' });
  const reply = await askWorker<MissingFitRequest, MissingFitReply>(worker, req, [req.x.buffer]);
  if ('error' in reply) throw new Error(reply.error);
  return reply.result;
}

/** The page's options for a run on `data`. */
export function runOptions(data: AppData): ModelRunOptions {
  return { metadata: data.metadata, optimum: closedFormOptimum, likelihoodHint: APP_HINT, fitMissing: fitMissingInWorker };
}
