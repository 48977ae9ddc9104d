// Stochastic and online EM with chunk streaming against full shuffling, on the
// bundled MNIST train split as stored (ordered by digit): the same fits with the
// rows resident (uniform minibatches) and streamed in chunks of blocks
// (ppca/stream.ts, models/stream.ts streamEpoch), several seeds each; the final
// exact train log-likelihood per sample, its mean and spread per mode, and the
// closed form's as the reference. JSON on stdout (and --out FILE) with the
// backend, the layout and the load average.
//   npx tsx bench/ppca-stream.ts [--target cpu|llvmpipe] [--d 10] [--epochs 5] [--seeds 1,2,3] [--chunk-rows 800] [--out FILE]
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import {
  PpcaStream, arraySource, closedFormPpca, createCpuBackend, createWebGpuBackend, fitOem, fitSem, loadMnist, meanLogLik, releaseData,
  releasePpca, uploadData, type Backend,
} from '../src/index.ts';

const { values } = parseArgs({
  options: {
    target: { type: 'string', default: 'cpu' }, d: { type: 'string', default: '10' }, epochs: { type: 'string', default: '5' },
    seeds: { type: 'string', default: '1,2,3' }, 'chunk-rows': { type: 'string', default: '800' }, batch: { type: 'string', default: '100' },
    out: { type: 'string' },
  },
});
const d = Number(values.d);
const epochs = Number(values.epochs);
const batch = Number(values.batch);
const chunkRows = Number(values['chunk-rows']);
const seeds = values.seeds!.split(',').map(Number);
const load0 = loadavg();
const b: Backend = values.target === 'cpu' ? await createCpuBackend() : await createWebGpuBackend(values.target as 'llvmpipe');
const train = loadMnist().train;
const data = uploadData(b, train);
const src = arraySource('mnist', train.x, train.n, train.D);
const closed = closedFormPpca(data, d).loglik;
const rows: Record<string, unknown>[] = [];
let layout: unknown;
for (const method of ['sem', 'oem'] as const) {
  for (const mode of ['shuffled', 'chunks'] as const) {
    const lls: number[] = [];
    for (const seed of seeds) {
      const t0 = performance.now();
      const opts = { d, batch, epochs, seed, evalEvery: 0 };
      let rows0: PpcaStream | null = null;
      if (mode === 'chunks') {
        rows0 = await PpcaStream.open(b, src, { batch, memory: { chunkRows }, norms: method === 'oem' });
        layout = rows0.layout;
      }
      const on = rows0 ?? data;
      const r = method === 'sem' ? await fitSem(b, on, { ...opts, lr: 1e-3, tau: 1000, kappa: 0.75 }) : await fitOem(b, on, { ...opts, kappa: 0.6 });
      const ll = await meanLogLik(r.model, data);
      lls.push(ll);
      rows.push({ method, mode, seed, loglik: ll, seconds: (performance.now() - t0) / 1000 });
      releasePpca(r.model);
      process.stderr.write(`${method} ${mode} seed ${seed}: ${ll.toFixed(3)}\n`);
    }
    const mean = lls.reduce((s, v) => s + v, 0) / lls.length;
    rows.push({ method, mode, summary: true, mean, spread: Math.max(...lls) - Math.min(...lls), gap_to_closed_form: closed - mean });
  }
}
releaseData(b, data);
const out = {
  bench: 'ppca-stream', backend: b.info.backend, adapter: b.info.adapter?.description ?? b.info.summary, data: 'mnist train (8,000 rows, stored by digit)',
  d, epochs, batch, chunk_rows: chunkRows, layout, closed_form_loglik: closed, loadavg_start: load0, loadavg_end: loadavg(), rows,
};
const text = `${JSON.stringify(out, null, 2)}\n`;
process.stdout.write(text);
if (values.out) writeFileSync(values.out, text);
b.destroy();
