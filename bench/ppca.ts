// PPCA benchmark on the MNIST train split: seconds per exact-EM iteration and
// stochastic-EM steps per second, d ∈ {10, 50}, for each WebGPU adapter and the
// CPU backend. Writes bench/results/ppca.json and ppca.md.
//   npx tsx bench/ppca.ts [--targets swiftshader,llvmpipe,cpu] [--iters 5] [--steps 50] [--latent 10,50]
// The CPU backend is measured in a process that never created a WebGPU instance
// (Dawn may keep a core spinning, DESIGN.md §3): run `--targets cpu` separately;
// results from separate runs are merged into the same files.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { Backend } from '../src/backend.ts';
import { CpuBackend } from '../src/cpu/backend.ts';
import { loadMnist } from '../src/data/mnist.node.ts';
import { fitEm, fitSem, releaseData, releasePpca, uploadData } from '../src/models/ppca.ts';

interface Row {
  target: string;
  device: string;
  latent: number;
  em_seconds_per_iter: number;
  sem_steps_per_second: number;
  sem_batch: number;
  when: string;
}

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

const targets = arg('targets', 'swiftshader,llvmpipe').split(',');
const iters = Number(arg('iters', '5'));
const steps = Number(arg('steps', '50'));
const latents = arg('latent', '10,50').split(',').map(Number);
const batch = 100;
const { train } = loadMnist();

async function backendFor(target: string): Promise<Backend> {
  if (target === 'cpu') return new CpuBackend();
  const { createWebGpuBackend } = await import('../src/node/backend.ts');
  return createWebGpuBackend(target as 'swiftshader' | 'llvmpipe' | 'gpu');
}

const rows: Row[] = [];
for (const target of targets) {
  const b = await backendFor(target);
  const data = uploadData(b, train);
  for (const d of latents) {
    // one warm-up iteration compiles the pipelines; then time `iters` more
    const warm = await fitEm(b, data, { d, maxIters: 1, tol: 0, seed: 1 });
    releasePpca(warm.model);
    const em = await fitEm(b, data, { d, maxIters: iters, tol: 0, seed: 1 });
    releasePpca(em.model);
    // per-iteration time from the trace (excludes the setup: centering, final evaluation)
    const t = em.trace;
    const emPerIter = (t[t.length - 2]!.seconds - t[0]!.seconds) / Math.max(1, t.length - 2);
    const sem = await fitSem(b, data, { d, batch, epochs: steps / Math.ceil(data.n / batch), lr: 1e-3, seed: 1, evalEvery: 0 });
    releasePpca(sem.model);
    const row: Row = {
      target, device: b.info.summary, latent: d, em_seconds_per_iter: emPerIter,
      sem_steps_per_second: sem.stepsPerSecond, sem_batch: batch, when: new Date().toISOString(),
    };
    rows.push(row);
    process.stderr.write(`${JSON.stringify(row)}\n`);
  }
  releaseData(b, data);
  b.destroy();
}

mkdirSync('bench/results', { recursive: true });
const jsonPath = 'bench/results/ppca.json';
const previous: Row[] = existsSync(jsonPath) ? (JSON.parse(readFileSync(jsonPath, 'utf8')) as { rows: Row[] }).rows : [];
const merged = [...previous.filter((p) => !rows.some((r) => r.target === p.target && r.latent === p.latent)), ...rows];
writeFileSync(jsonPath, `${JSON.stringify({ data: 'mnist train (8000×784)', rows: merged }, null, 2)}\n`);
const md = [
  '# PPCA on the MNIST train split (8000×784)',
  '',
  '| target | latent d | exact EM: s / iteration | stochastic EM (B=100): steps / s |',
  '|---|---|---|---|',
  ...merged.map((r) => `| ${r.device} | ${r.latent} | ${r.em_seconds_per_iter.toFixed(3)} | ${r.sem_steps_per_second.toFixed(1)} |`),
  '',
  'Measured on a shared 2-core machine without a GPU (software adapters); see bench/ppca.ts.',
  '',
].join('\n');
writeFileSync('bench/results/ppca.md', md);
process.exit(0);
