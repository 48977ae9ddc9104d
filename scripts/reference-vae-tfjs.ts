// Trains the TensorFlow.js reference VAE (bench/tfjs/vae.ts) on the canonical
// MNIST split and reports its test −ELBO and −IWAE_K, to set against
// `latentgpu train --model vae --json` (docs/vae-results.md).
//
//   npx tsx scripts/reference-vae-tfjs.ts [--epochs 20] [--batch 128] [--lr 1e-3] [--seed 0]
//       [--backend wasm|cpu] [--iwae-k 1000] [--iwae-rows N] [--subset N]
//       [--load-latentgpu MODEL.safetensors]
//
// --load-latentgpu evaluates a trained latentgpu VAE with the TF.js code instead of
// training (epochs 0): a check of latentgpu's ELBO / IWAE evaluation by a second one.
//
// Prints progress on stderr and one JSON object on stdout.
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { createTfjsVae, initTfjsBackend } from '../bench/tfjs/vae.ts';
import { CpuBackend } from '../src/cpu/backend.ts';
import { loadMnist } from '../src/data/mnist.node.ts';
import { loadSafetensors } from '../src/io/atomic.node.ts';
import { Vae } from '../src/models/vae.ts';
import { epochPermutation } from '../src/train/rng.ts';

function positiveInt(name: string, v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`--${name} must be a positive integer, got '${v}'`);
  return n;
}

/** A latentgpu VAE file's parameters by block name (the layout comes from its own config). */
async function latentgpuBlocks(file: string, trainX: Float32Array, D: number): Promise<Record<string, Float32Array>> {
  const st = await loadSafetensors(file);
  if (st.metadata.model !== 'vae') throw new Error(`${file} holds a '${st.metadata.model}', not a vae`);
  const cfg = JSON.parse(st.metadata.config ?? '{}');
  if (cfg.likelihood !== 'bernoulli' || cfg.latent !== 20 || JSON.stringify(cfg.encoderHidden) !== '[400]' || cfg.dataDim !== D) {
    throw new Error(`${file} is not the classic VAE (${D}-400-20, Bernoulli) that the TF.js reference builds`);
  }
  // the constructor only needs some rows (the Gaussian decoder's initial variance); its layout names the blocks
  const layoutOf = new Vae(new CpuBackend(), cfg, trainX.subarray(0, D), 1);
  const params = st.tensors.params!.data as Float32Array;
  const out: Record<string, Float32Array> = {};
  for (const b of layoutOf.layout.list()) out[b.name] = layoutOf.layout.slice(params, b.name);
  return out;
}

async function main(): Promise<void> {
  const { values: a } = parseArgs({
    options: {
      epochs: { type: 'string', default: '20' },
      batch: { type: 'string', default: '128' },
      lr: { type: 'string', default: '1e-3' },
      seed: { type: 'string', default: '0' },
      backend: { type: 'string', default: 'wasm' },
      'iwae-k': { type: 'string', default: '1000' },
      'iwae-rows': { type: 'string' },
      subset: { type: 'string' },
      'load-latentgpu': { type: 'string' },
    },
  });
  const loadFile = a['load-latentgpu'];
  const epochs = loadFile ? 0 : Number(a.epochs);
  if (!Number.isInteger(epochs) || epochs < 0) throw new Error(`--epochs must be a non-negative integer, got '${a.epochs}'`);
  const batch = positiveInt('batch', a.batch!);
  const lr = Number(a.lr);
  if (!(lr > 0)) throw new Error(`--lr must be positive, got '${a.lr}'`);
  const seed = Number(a.seed);
  const K = positiveInt('iwae-k', a['iwae-k']!);
  if (a.backend !== 'wasm' && a.backend !== 'cpu') throw new Error(`--backend must be wasm or cpu, got '${a.backend}'`);
  const backend = await initTfjsBackend(a.backend);

  const { train, test } = loadMnist(a.subset ? { subset: positiveInt('subset', a.subset) } : {});
  const D = train.D;
  const iwaeRows = a['iwae-rows'] ? Math.min(test.n, positiveInt('iwae-rows', a['iwae-rows'])) : test.n;
  const vae = createTfjsVae({ dataDim: D, lr, seed });
  if (loadFile) vae.setParameters(await latentgpuBlocks(loadFile, train.x, D));
  const load0 = loadavg();
  const batchX = new Float32Array(batch * D);
  const perEpoch: number[] = [];
  const t0 = performance.now();
  for (let e = 0; e < epochs; e++) {
    const perm = epochPermutation(train.n, seed, e);
    let sum = 0;
    for (let s = 0; s < train.n; s += batch) {
      const rows = Math.min(batch, train.n - s);
      for (let r = 0; r < rows; r++) batchX.set(train.x.subarray(perm[s + r]! * D, (perm[s + r]! + 1) * D), r * D);
      const loss = vae.trainStep(batchX, rows);
      if (!Number.isFinite(loss)) throw new Error(`the loss became ${loss} at epoch ${e + 1}, step ${vae.step}`);
      sum += loss * rows;
    }
    perEpoch.push(sum / train.n);
    console.error(`epoch ${e + 1}/${epochs}: train −ELBO ${(sum / train.n).toFixed(3)} nats/sample, ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }
  const trainSeconds = (performance.now() - t0) / 1000;
  const load1 = loadavg();
  const elbo = vae.evaluateElbo(test.x, test.n);
  console.error(`test ELBO ${elbo.elbo.toFixed(3)} (log p(x|z) ${elbo.logLik.toFixed(3)}, KL ${elbo.kl.toFixed(3)})`);
  const t1 = performance.now();
  const iwae = vae.evaluateIwae(test.x, K, iwaeRows);
  const iwaeSeconds = (performance.now() - t1) / 1000;
  console.error(`test IWAE_${K} ${iwae.iwae.toFixed(3)} on ${iwaeRows} rows, ${iwaeSeconds.toFixed(1)} s`);
  vae.dispose();
  console.log(JSON.stringify({
    impl: loadFile ? `tfjs 4.22 evaluating ${loadFile}` : 'tfjs 4.22 (autodiff + Adam by TF.js)', backend, seed, epochs, batch, lr,
    n_train: train.n, n_test: test.n, params: vae.paramCount,
    train_neg_elbo_per_epoch: perEpoch,
    test_elbo: elbo.elbo, test_loglik: elbo.logLik, test_kl: elbo.kl,
    test_iwae: iwae.iwae, iwae_k: K, iwae_rows: iwaeRows,
    train_seconds: trainSeconds, samples_per_second: (epochs * train.n) / trainSeconds, iwae_seconds: iwaeSeconds,
    loadavg_start: load0, loadavg_end_train: load1, loadavg_end: loadavg(),
  }));
}

main().catch((e: unknown) => {
  console.error(`reference-vae-tfjs: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
