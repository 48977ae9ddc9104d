// The 70,000 × 784 acceptance check of the data-size work: the bundled MNIST
// (10,000 digits, train then test rows) tiled 7 times into a float32 .npy of
// 219 MB — over the 128 MiB storage binding of llvmpipe and SwiftShader, so the
// GPU paths hold it in several device buffers — then the real command line,
// one child process per run, trains every PPCA method and the VAE on each
// backend with the same seeds and iteration counts, so the figures compare.
// The split is the CLI's own: rows i % 5 == 4 are the test rows (56,000/14,000).
//   npx tsx bench/full-size.ts [--targets cpu,llvmpipe,swiftshader] [--methods em,...,vae]
//     [--iters 10] [--epochs 1] [--vae-batch 512] [--test-subset 0] [--out FILE.json]
// Peak RSS is the child's maximum resident set from /usr/bin/time -v (the
// parent there is `time` itself, so the figure is the CLI's own).
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeNpyHeader } from '../src/data/npy.ts';
import { loadMnist } from '../src/data/mnist.node.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const args = process.argv.slice(2);
const arg = (name: string, fallback: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : fallback;
};
const targets = arg('targets', 'cpu,llvmpipe,swiftshader').split(',');
const methods = arg('methods', 'em,squarem,anderson,closed,sem,oem,vae,eval:exact,eval:elbo,eval:iwae,eval:prior').split(',');
const evalSamples = Number(arg('eval-samples', '10'));
const iters = Number(arg('iters', '10'));
const epochs = Number(arg('epochs', '1'));
const vaeBatch = Number(arg('vae-batch', '512'));
const testSubset = Number(arg('test-subset', '0'));
const TILES = 7;
// a target 'ADAPTER-chunked' forces the data into 128 MiB device buffers (Chrome's default binding),
// for an adapter whose own binding limit would hold the training rows in one
const CHUNKED = /-chunked$/;
const CHUNK_ROWS_128MIB = Math.floor(2 ** 27 / (784 * 4));

/** Writes MNIST's 10,000 rows TILES times to `file` (via file.partial), a tile at a time. */
function writeTiled(file: string): { n: number; D: number } {
  const { train, test } = loadMnist();
  const D = train.D;
  const n = (train.n + test.n) * TILES;
  const head = encodeNpyHeader(n, D);
  const fd = openSync(`${file}.partial`, 'w');
  writeSync(fd, head);
  for (let t = 0; t < TILES; t++) {
    for (const part of [train, test]) writeSync(fd, new Uint8Array(part.x.buffer, part.x.byteOffset, part.n * D * 4));
  }
  closeSync(fd);
  renameSync(`${file}.partial`, file);
  return { n, D };
}

interface Run {
  target: string;
  method: string;
  adapter: string | null;
  command: string;
  ok: boolean;
  error?: string;
  nTrain?: number;
  nTest?: number;
  /** train/test log-likelihood per row (PPCA) or ELBO per row (VAE) */
  train?: number;
  test?: number;
  /** test figure minus the CPU backend's */
  testDiffToCpu?: number;
  trainDiffToCpu?: number;
  iterations?: number;
  seconds?: number;
  wallSeconds: number;
  samplesPerSecond?: number;
  peakRssMB: number | null;
  load: [number, number];
}

const modelFile = (file: string, target: string): string => join(file, '..', `${target}-em.safetensors`);

function trainArgs(file: string, target: string, method: string): string[] {
  const runDir = join(file, '..', `${target}-${method}`);
  const backend = target === 'cpu' ? ['--backend', 'cpu'] : ['--backend', 'webgpu', '--adapter', target.replace(CHUNKED, '')];
  const common = ['--data', file, '--seed', '1', '--json', '--run-dir', runDir, ...backend, ...(testSubset > 0 ? ['--test-subset', String(testSubset)] : [])];
  if (method.startsWith('eval:')) {
    // the estimators evaluate the CPU backend's EM model (this backend's when there is none), so differences are the estimator's own
    const cpuModel = modelFile(file, 'cpu');
    const model = existsSync(cpuModel) ? cpuModel : modelFile(file, target);
    return ['eval', '--model', model, '--estimator', method.slice(5), '--samples', String(evalSamples), '--split', 'test', ...common.filter((a, i) => a !== '--run-dir' && common[i - 1] !== '--run-dir')];
  }
  if (method === 'em') common.push('--out', modelFile(file, target));
  if (method === 'vae') return ['train', '--model', 'vae', '--epochs', String(epochs), '--batch', String(vaeBatch), '--samples', '1', ...common];
  const budget = method === 'sem' || method === 'oem' ? ['--epochs', String(epochs)] : method === 'closed' ? [] : ['--iters', String(iters), '--tol', '1e-12'];
  return ['train', '--model', 'ppca', '--latent', '10', '--method', method, ...budget, ...common];
}

const rate = (rows: number | undefined, seconds: number | undefined): number | undefined => (rows !== undefined && seconds ? rows / seconds : undefined);

/** The adapter as the run's JSON names it: device and description, with its binding limit. */
function adapterName(a: unknown): string | null {
  if (a === null || typeof a !== 'object') return null;
  const { device, description, limits } = a as { device?: string; description?: string; limits?: { maxStorageBufferBindingSize?: number } };
  const binding = limits?.maxStorageBufferBindingSize;
  return `${device ?? ''} ${description ?? ''}${binding ? ` (binding ${(binding / 2 ** 20).toFixed(0)} MiB)` : ''}`.trim();
}

function runOne(file: string, target: string, method: string): Run {
  const cli = trainArgs(file, target, method);
  const command = `${CHUNKED.test(target) ? `LATENTGPU_CHUNK_ROWS=${CHUNK_ROWS_128MIB} ` : ''}latentgpu ${cli.join(' ')}`.replaceAll(join(file, '..'), 'TMP');
  const load0 = loadavg()[0]!;
  const t0 = performance.now();
  const r = spawnSync('/usr/bin/time', ['-v', process.execPath, '--import', 'tsx', join(ROOT, 'src/cli/main.ts'), ...cli], {
    cwd: ROOT, encoding: 'utf8', maxBuffer: 1 << 26,
    env: { ...process.env, LATENTGPU_DEBUG: '', ...(CHUNKED.test(target) ? { LATENTGPU_CHUNK_ROWS: String(CHUNK_ROWS_128MIB) } : {}) },
  });
  const wallSeconds = (performance.now() - t0) / 1000;
  const load: [number, number] = [load0, loadavg()[0]!];
  const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(r.stderr ?? '');
  const peakRssMB = rss ? Number(rss[1]) / 1024 : null;
  const base = { target, method, command, wallSeconds, peakRssMB, load };
  if (r.status !== 0) {
    const lines = (r.stderr ?? '').split('\n').filter((l) => l.trim() !== '' && !/^\s|^Command (being timed|exited)/.test(l));
    const error = lines.find((l) => l.startsWith('latentgpu:')) ?? lines[0] ?? `exit ${r.status}`;
    return { ...base, adapter: null, ok: false, error };
  }
  const j = JSON.parse(r.stdout) as Record<string, unknown>;
  const num = (k: string): number | undefined => (typeof j[k] === 'number' ? (j[k] as number) : undefined);
  const train = num('train_loglik') ?? num('train_elbo');
  const test = num('test_loglik') ?? num('test_elbo') ?? num('loglik');
  const nTrain = num('n_train');
  const seconds = num('seconds');
  // rows visited: iterations × n for exact EM, epochs × n for the minibatch methods, n once for the closed form
  const passes = method === 'closed' || method.startsWith('eval:') ? 1 : method === 'sem' || method === 'oem' || method === 'vae' ? epochs : (num('iterations') ?? iters);
  return {
    ...base, ok: true, adapter: adapterName(j.adapter), nTrain, nTest: num('n_test'), train, test,
    iterations: num('iterations'), seconds,
    samplesPerSecond: num('samples_per_second') ?? (method.startsWith('eval:') ? rate(num('n'), seconds) : rate(nTrain === undefined ? undefined : nTrain * passes, seconds)),
  };
}

const fmt = (x: number | undefined | null, digits = 2): string => (x === undefined || x === null || !Number.isFinite(x) ? '—' : x.toFixed(digits));

function table(runs: Run[]): string {
  const head = '| backend | method | train | test | Δ test vs cpu | s | samples/s | peak RSS MiB | load |\n|---|---|---:|---:|---:|---:|---:|---:|---|';
  const rows = runs.map((r) => r.ok
    ? `| ${r.target} | ${r.method} | ${fmt(r.train)} | ${fmt(r.test)} | ${fmt(r.testDiffToCpu, 4)} | ${fmt(r.seconds, 1)} | ${fmt(r.samplesPerSecond, 0)} | ${fmt(r.peakRssMB, 0)} | ${r.load[0].toFixed(1)} → ${r.load[1].toFixed(1)} |`
    : `| ${r.target} | ${r.method} | failed: \`${r.error}\` | | | ${fmt(r.wallSeconds, 1)} | | ${fmt(r.peakRssMB, 0)} | ${r.load[0].toFixed(1)} → ${r.load[1].toFixed(1)} |`);
  return [head, ...rows].join('\n');
}

const dir = mkdtempSync(join(tmpdir(), 'latentgpu-full-'));
const file = join(dir, 'mnist-70000x784.npy');
const started = new Date().toISOString();
const load0 = loadavg();
const runs: Run[] = [];
const outFile = arg('out', join(ROOT, 'bench/results', `full-size-${targets.length === 1 ? targets[0] : 'all'}.json`));
try {
  const { n, D } = writeTiled(file);
  console.error(`wrote ${n} × ${D} float32 (${((n * D * 4) / 1e6).toFixed(0)} MB)`);
  for (const target of targets) {
    for (const method of methods) {
      const r = runOne(file, target, method);
      const cpu = runs.find((c) => c.target === 'cpu' && c.method === method && c.ok);
      if (cpu && r.ok && r.target !== 'cpu') {
        r.testDiffToCpu = r.test! - cpu.test!;
        r.trainDiffToCpu = r.train! - cpu.train!;
      }
      runs.push(r);
      console.error(`${target} ${method}: ${r.ok ? `train ${fmt(r.train)} test ${fmt(r.test)} ${fmt(r.seconds, 1)} s` : r.error} (wall ${r.wallSeconds.toFixed(1)} s, ${fmt(r.peakRssMB, 0)} MiB)`);
      // partial results survive an interrupted run
      mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
      writeFileSync(`${outFile}.partial`, JSON.stringify({ started, runs }, null, 1));
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
const report = { started, finished: new Date().toISOString(), rows: '70000 × 784 (bundled MNIST tiled 7×; CLI split 56,000 train / 14,000 test)', iters, epochs, vaeBatch, testSubset: testSubset || null, load: { before: load0, after: loadavg() }, runs };
writeFileSync(outFile, JSON.stringify(report, null, 1) + '\n');
if (existsSync(`${outFile}.partial`)) rmSync(`${outFile}.partial`);
const adapters = [...new Set(runs.map((r) => `${r.target}: ${r.adapter ?? 'cpu backend'}`))].join('; ');
console.log(`### ${report.rows}\n\n${started}; adapters: ${adapters}; load ${load0.map((l) => l.toFixed(1)).join(' ')} → ${loadavg().map((l) => l.toFixed(1)).join(' ')}\n\n${table(runs)}`);
