// Rows streamed from a RowSource chunk by chunk (src/models/stream.ts): training the
// VAE and the per-point model on streamed chunks equals training the resident rows on
// the same minibatch order, the epoch order is the documented one, device memory is
// flat over epochs, resume mid-epoch continues exactly, full shuffling and chunked
// streaming reach the same ELBO within the seed spread, and evaluation over a
// streamed set equals the resident one.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Backend, Tensor } from '../src/backend.ts';
import { runCli } from '../src/cli/program.ts';
import { arraySource, type RowSource } from '../src/data/source.ts';
import { loadSafetensors } from '../src/io/atomic.node.ts';
import { EvalSet, evaluateElbo, evaluateIwae, latentMeans, reconstruct } from '../src/models/evaluate.ts';
import { columnVariance } from '../src/models/latent.ts';
import { Lvm, type LvmConfig } from '../src/models/lvm.ts';
import { ChunkStream, chunkRowsOf, sourceColumnVariance, streamChunkRows, streamEpoch, streamLayout, streams } from '../src/models/stream.ts';
import { Vae, type VaeConfig } from '../src/models/vae.ts';
import { Trainer, train } from '../src/train/trainer.ts';
import { TEST_ADAPTERS, cpu, gpuBackend, randomArray } from './gpu.ts';

const D = 20;
const vaeCfg: VaeConfig = {
  dataDim: D, latent: 3, encoderHidden: [16], decoderHidden: [12], act: 'relu',
  likelihood: 'bernoulli', variance: 'vector', varFloor: 1e-3, varCeil: 4, objective: 'elbo', seed: 4,
};
const { encoderHidden: _, ...decoderHalf } = vaeCfg;
const lvmCfg: LvmConfig = { ...decoderHalf, phiLr: 0.05, phiSteps: 2 };
const n = 203;
const X = randomArray(n * D, 9, 0, 1);
const source = (): RowSource => arraySource('x', X, n, D);
/** a source that is not in memory (as a file's): it must stream */
const sliced = (x = X, rows = n): RowSource => ({ ...arraySource('sliced', x, rows, D), array: null });

/**
 * The reference: the resident model stepped by hand through the documented epoch order
 * (streamEpoch: blocks permuted and grouped into chunks, rows permuted within each chunk,
 * minibatches within a chunk).
 */
async function stepByHand(model: Vae | Lvm, chunkRows: number, o: { seed: number; epochs: number; batch: number; lr: number }): Promise<void> {
  const be = model.backend;
  const sums = be.tensor(128);
  const idx = be.tensor(o.batch, { dtype: 'u32' });
  const layout = streamLayout(chunkRows, model.rows, o.batch);
  let step = 0;
  for (let epoch = 0; epoch < o.epochs; epoch++) {
    const { chunks, within } = streamEpoch(model.rows, layout, o.seed, epoch);
    for (let c = 0; c < chunks.length; c++) {
      const { rows } = chunks[c]!;
      const perm = within(c);
      for (let k = 0; k * o.batch < rows; k++) {
        const local = perm.subarray(k * o.batch, Math.min(rows, (k + 1) * o.batch));
        const global = new Uint32Array(local.length);
        chunkRowsOf(chunks[c]!, local, global);
        const view = be.view(idx, 0, global.length);
        be.upload(view, global);
        model.step({ idx: view, idxHost: global, rows: global.length, step, epoch, lr: o.lr, sumLogLik: be.view(sums, 0, 1), sumKl: be.view(sums, 64, 1) });
        step++;
      }
    }
  }
  await be.finish();
  be.release(idx);
  be.release(sums);
}

/** A backend that counts its live root tensors (allocations minus releases). */
function counting(be: Backend): { backend: Backend; live: () => number } {
  let live = 0;
  const backend = new Proxy(be, {
    get(target, prop, recv) {
      if (prop === 'tensor') return (...a: Parameters<Backend['tensor']>) => { live++; return target.tensor(...a); };
      if (prop === 'release') return (t: Tensor) => { live--; target.release(t); };
      const v = Reflect.get(target, prop, recv);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
  return { backend, live: () => live };
}

describe('stream sizing', () => {
  it('streams when the rows are not in memory, a chunk size is forced or the device budget is exceeded', () => {
    expect(streams(source())).toBe(false);
    expect(streams(source(), { deviceBytes: n * D * 4 })).toBe(false);
    expect(streams(source(), { deviceBytes: n * D * 4 - 1 })).toBe(true);
    expect(streams(source(), { chunkRows: 50 })).toBe(true);
    expect(streams(sliced())).toBe(true);
  });
  it('chunks hold two device buffers within the budget, one host staging, whole minibatches', () => {
    const big = { name: 'big', n: 680_000, D: 784 };
    // --device-memory 64: two buffers of 32 MiB = 10,699 rows of 3,136 bytes
    expect(streamChunkRows(cpu, big, { deviceBytes: 64 * 2 ** 20, hostBytes: 256 * 2 ** 20 }, 100)).toBe(10_699);
    // blocks of 41 rows at most: 25 (a divisor of the batch 100), 424 of them a chunk; 4 rows (a divisor of 128), 320 a chunk
    expect(streamLayout(10_699, 680_000, 100)).toEqual({ chunkRows: 10_600, blockRows: 25, blocksPerChunk: 424 });
    expect(streamLayout(1337, 8000, 128)).toEqual({ chunkRows: 1280, blockRows: 4, blocksPerChunk: 320 });
    expect(streamLayout(1000, 1000, 100)).toEqual({ chunkRows: 1000, blockRows: 1000, blocksPerChunk: 1 });
    expect(streamLayout(300_000, 10 ** 6, 128)).toEqual({ chunkRows: 299_520, blockRows: 1152, blocksPerChunk: 260 });
    expect(streamLayout(300, 1000, 16)).toEqual({ chunkRows: 288, blockRows: 1, blocksPerChunk: 288 });
    // --host-memory 16: one staging of 16 MiB = 5,349 rows
    expect(streamChunkRows(cpu, big, { hostBytes: 16 * 2 ** 20 }, 1)).toBe(5349);
    expect(streamChunkRows(cpu, { ...big, n: 1000 }, { hostBytes: 256 * 2 ** 20 }, 100)).toBe(1000);
    expect(() => streamChunkRows(cpu, big, { deviceBytes: 2 ** 20 }, 500)).toThrow(/holds 167 rows per chunk, fewer than a minibatch of 500; raise the budget/);
    expect(() => streamChunkRows(cpu, big, { hostBytes: 1000 })).toThrow(/does not fit the memory budget/);
  });
  it('an epoch visits every row once, each chunk mixing blocks from over the data, another order each epoch', () => {
    // blocks of 2 rows, 24 a chunk; 203 rows end in a short block of 1
    const layout = { chunkRows: 48, blockRows: 2, blocksPerChunk: 24 };
    const orders = [0, 1].map((epoch) => {
      const { chunks, within } = streamEpoch(n, layout, 7, epoch);
      expect(chunks.map((c) => c.rows)).toEqual([48, 48, 48, 48, 11]);
      const seen: number[] = [];
      chunks.forEach((c, k) => {
        expect(c.parts.length).toBeLessThanOrEqual(24);
        const g = new Uint32Array(c.rows);
        chunkRowsOf(c, within(k), g);
        seen.push(...g);
      });
      // blocks come from over the data, not one contiguous slice
      expect(chunks.every((c) => c.parts.at(-1)!.r0 - c.parts[0]!.r0 > 100)).toBe(true);
      expect([...seen].sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i));
      return seen;
    });
    expect(orders[0]).not.toEqual(orders[1]);
  });
  it('a stream reads a resident chunk once, reads the next one ahead, and reports a failed read when it is needed', async () => {
    const src = source();
    const s = new ChunkStream(cpu, src, 50);
    expect(s.chunks.length).toBe(5);
    const a = await s.load(2, 3);
    expect(await cpu.read(a.x)).toEqual(X.subarray(100 * D, 150 * D));
    await s.settle();
    expect(s.reads).toBe(2);
    // chunk 3 was read ahead: only chunk 4 is read now, ahead
    const b = await s.load(3, 4);
    expect((await cpu.read(b.x)).subarray(0, 50 * D)).toEqual(X.subarray(150 * D, 200 * D));
    await s.settle();
    expect(s.reads).toBe(3);
    const last = await s.load(4);
    expect(s.reads).toBe(3);
    expect((await cpu.read(last.x)).subarray(0, 3 * D)).toEqual(X.subarray(200 * D, 203 * D));
    const failing: RowSource = { ...src, async read(r0) { if (r0 >= 100) throw new Error('disk went away'); } };
    const f = new ChunkStream(cpu, failing, 50);
    await f.load(0, 2);
    await expect(f.load(2)).rejects.toThrow(/disk went away/);
    s.release();
    f.release();
  });
  it('the column variance of a streamed source equals the in-memory one', async () => {
    const got = await sourceColumnVariance(sliced(), 37 * D * 4);
    const want = columnVariance(X, n, D);
    for (let j = 0; j < D; j++) expect(Math.abs(got[j]! - want[j]!)).toBeLessThan(1e-6);
  });
});

const backends: [string, () => Promise<Backend>][] = [
  ['cpu', async () => cpu],
  [TEST_ADAPTERS[0]!, () => gpuBackend(TEST_ADAPTERS[0]!)],
];

for (const [name, get] of backends) {
  const exact = name === 'cpu';
  const same = (got: Float32Array, want: Float32Array, tol: number): void => {
    if (exact) expect(got).toEqual(want);
    else for (let i = 0; i < want.length; i++) expect(Math.abs(got[i]! - want[i]!)).toBeLessThan(tol * (1 + Math.abs(want[i]!)));
  };

  describe(`streamed rows on ${name}`, () => {
    for (const [label, chunkRows] of [['one chunk', n], ['chunks of 48 rows', 50], ['chunks of 32 rows', 37]] as const) {
      it(`VAE, ${label}: the streamed fit equals the resident rows stepped in the same order${exact ? ' (bit for bit)' : ''}`, async () => {
        const be = await get();
        const o = { seed: 5, epochs: 3, batch: 16, lr: 1e-2 };
        const streamed = new Vae(be, vaeCfg, source(), n, { memory: { chunkRows }, batch: o.batch });
        const r = await train(streamed, o);
        expect(r.steps).toBe(3 * Math.ceil(n / o.batch));
        // one chunk stays resident after its first read; else the 13 blocks of 16 rows are read every epoch
        if (chunkRows === n) expect(streamed.stream!.reads).toBe(1);
        else expect(streamed.stream!.reads).toBeGreaterThan(2 * 13);
        const resident = new Vae(be, vaeCfg, X, n);
        await stepByHand(resident, chunkRows, o);
        same(await be.read(streamed.params), await be.read(resident.params), 1e-4);
        streamed.release();
        resident.release();
      });
    }

    it('per-point model, chunks of 37 rows: φ stays resident and the fit equals the resident rows in the same order', async () => {
      const be = await get();
      const o = { seed: 2, epochs: 2, batch: 16, lr: 1e-2 };
      const streamed = new Lvm(be, lvmCfg, sliced(), n, { memory: { chunkRows: 37 }, batch: o.batch });
      expect(() => streamed.data).toThrow(/stream in chunks of 37/);
      await train(streamed, o);
      const resident = new Lvm(be, lvmCfg, X, n);
      await stepByHand(resident, 37, o);
      const [a, b] = [await streamed.state(), await resident.state()];
      for (const k of ['params', 'phi.m', 'phi.logvar', 'phi.adam.v.m']) same(a[k]!, b[k]!, 1e-4);
      streamed.release();
      resident.release();
    });

    it('resume mid-epoch (mid-chunk) continues exactly', async () => {
      const be = await get();
      const o = { seed: 3, epochs: 3, batch: 16, lr: 1e-2 };
      const memory = { chunkRows: 48 };
      const whole = new Vae(be, vaeCfg, sliced(), n, { memory, batch: o.batch });
      const r = await train(whole, o);
      const first = new Vae(be, vaeCfg, sliced(), n, { memory, batch: o.batch });
      // 17 steps: epoch 1 (13 steps), then 4 steps into epoch 2: its second chunk (3 minibatches each)
      const t1 = new Trainer(first, { ...o, maxSteps: 17 });
      await t1.run();
      expect([t1.epoch, t1.step]).toEqual([1, 17]);
      t1.release();
      const second = new Vae(be, vaeCfg, sliced(), n, { memory, batch: o.batch });
      second.loadState(await first.state());
      const t2 = new Trainer(second, { ...o, startEpoch: t1.epoch, startStep: t1.step });
      const r2 = await t2.run();
      t2.release();
      expect(r2.steps).toBe(r.steps);
      same(await be.read(second.params), await be.read(whole.params), 1e-5);
      for (const m of [whole, first, second]) m.release();
    });

    it('device memory is flat over epochs', async () => {
      const be = await get();
      const { backend, live } = counting(be);
      const gpu = (be as { memoryStats?: () => { bytes: number } }).memoryStats?.bind(be);
      const vae = new Vae(backend, vaeCfg, sliced(), n, { memory: { chunkRows: 40 }, batch: 16 });
      const t = new Trainer(vae, { epochs: 6, batch: 16, lr: 1e-2, seed: 1 });
      await t.tick(t.stepsPerEpoch * 2);
      const after2 = { live: live(), bytes: gpu?.().bytes };
      await t.tick(t.stepsPerEpoch * 4);
      expect(t.epoch).toBe(6);
      expect({ live: live(), bytes: gpu?.().bytes }).toEqual(after2);
      expect(vae.stream!.reads).toBeGreaterThanOrEqual(6 * 5);
      t.release();
      vae.release();
      expect(live()).toBe(0);
    });

    it('evaluation over a streamed set equals the resident set; the per-point model fits φ from several buffers as from one', async () => {
      const be = await get();
      const vae = new Vae(be, vaeCfg, X, n);
      await train(vae, { epochs: 1, batch: 32, lr: 1e-2, seed: 1 });
      const one = new EvalSet(be, { x: X, n }, D);
      const streamed = new EvalSet(be, sliced(), D, { chunkRows: 45 });
      expect(streamed.stream?.chunks.length).toBe(5);
      expect(() => streamed.data).toThrow(/read in slices/);
      const pick = Uint32Array.from([202, 0, 44, 45, 91, 150]);
      for (const [set, tag] of [[one, 'one'], [streamed, 'streamed']] as const) expect(set.n, tag).toBe(n);
      expect((await evaluateElbo(vae, streamed, { chunk: 64 })).elbo).toBe((await evaluateElbo(vae, one, { chunk: 64 })).elbo);
      expect((await evaluateIwae(vae, streamed, 7, { chunkSamples: 100 })).perRow).toEqual((await evaluateIwae(vae, one, 7, { chunkSamples: 100 })).perRow);
      same(await latentMeans(vae, streamed, 64), await latentMeans(vae, one, 64), 1e-6);
      same((await reconstruct(vae, streamed, pick)).recon, (await reconstruct(vae, one, pick)).recon, 1e-6);
      vae.release();

      const lvm = new Lvm(be, lvmCfg, X, n);
      await train(lvm, { epochs: 1, batch: 32, lr: 1e-2, seed: 1 });
      await lvm.fitPosterior(one, n, { steps: 5 });
      const a = await lvm.state();
      const e1 = await evaluateElbo(lvm, one);
      const m1 = await latentMeans(lvm, one);
      await lvm.fitPosterior(streamed, n, { steps: 5 });
      expect(await evaluateElbo(lvm, streamed)).toEqual(e1);
      same(await latentMeans(lvm, streamed), m1, 1e-6);
      // the training table is untouched by either fit
      expect((await lvm.state())['phi.m']).toEqual(a['phi.m']);
      lvm.release();
      one.release();
      streamed.release();
    });
  });
}

// Rows ordered by cluster (as files often are): chunked streaming sees one cluster per
// chunk, so its ELBO must still match full shuffling within the spread across seeds.
describe('chunked streaming vs full shuffling', () => {
  const rows = 640;
  const clustered = new Float32Array(rows * D);
  const r = randomArray(rows * D, 31, 0, 1);
  for (let i = 0; i < rows; i++) {
    const k = Math.floor((i * 4) / rows);
    for (let j = 0; j < D; j++) clustered[i * D + j] = (Math.floor(j / 5) === k ? 0.8 : 0.15) * r[i * D + j]! + (Math.floor(j / 5) === k ? 0.2 : 0);
  }
  for (const [name, get] of backends) {
    it(`on ${name}: the training ELBO after 2 epochs is within the seed spread`, async () => {
      const be = await get();
      const set = new EvalSet(be, { x: clustered, n: rows }, D);
      const elbos = async (chunkRows?: number): Promise<number[]> => {
        const out: number[] = [];
        for (const seed of [1, 2, 3, 4, 5]) {
          const cfg = { ...vaeCfg, seed };
          const vae = chunkRows ? new Vae(be, cfg, sliced(clustered, rows), rows, { memory: { chunkRows }, batch: 16 }) : new Vae(be, cfg, clustered, rows);
          if (chunkRows) expect(vae.stream!.chunkRows).toBe(chunkRows);
          await train(vae, { epochs: 2, batch: 16, lr: 1e-2, seed });
          out.push((await evaluateElbo(vae, set, { seed: 9 })).elbo);
          vae.release();
        }
        return out;
      };
      const mean = (a: number[]) => a.reduce((s, v) => s + v, 0) / a.length;
      const sd = (a: number[]) => Math.sqrt(a.reduce((s, v) => s + (v - mean(a)) ** 2, 0) / (a.length - 1));
      const full = await elbos();
      // chunks of 256 blocks of 1 row: 3 chunks an epoch
      const chunked = await elbos(256);
      const spread = Math.max(sd(full), sd(chunked));
      console.log(name, 'full', full.map((v) => v.toFixed(3)).join(' '), 'chunked (256 rows)', chunked.map((v) => v.toFixed(3)).join(' '));
      // two standard errors of a difference of means over 5 seeds each
      expect(Math.abs(mean(full) - mean(chunked))).toBeLessThan(2 * spread * Math.sqrt(2 / 5) + 1e-3);
      set.release();
    });
  }
});

describe('train --model vae|lvm --device-memory', () => {
  const cli = async (args: string[]): Promise<Record<string, unknown>> => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runCli([...args, '--json'], { stdout: (s) => void out.push(s), stderr: (s) => void err.push(s), env: {} });
    expect(code, err.join('')).toBe(0);
    return JSON.parse(out.join('')) as Record<string, unknown>;
  };
  const dir = mkdtempSync(join(tmpdir(), 'latentgpu-stream-'));
  // 600 MNIST rows are 1.9 MB: over 1 MiB of device memory, so they stream in chunks of 160 rows
  const base = ['train', '--data', 'mnist', '--subset', '600', '--test-subset', '100', '--hidden', '16', '--latent', '2', '--batch', '32',
    '--samples', '2', '--backend', 'cpu', '--device-memory', '1', '--seed', '3', '--checkpoint-every', '1'];
  const params = async (file: string): Promise<Float32Array> => (await loadSafetensors(file)).tensors.params!.data as Float32Array;

  it('a device budget too small for a minibatch is a one-line error', async () => {
    const err: string[] = [];
    const code = await runCli([...base, '--model', 'vae', '--epochs', '1', '--batch', '512', '--run-dir', join(dir, 'small')], { stdout: () => {}, stderr: (s) => void err.push(s), env: {} });
    expect(code).toBe(1);
    expect(err.join('').trim().split('\n')).toEqual([expect.stringMatching(/holds 167 rows per chunk, fewer than a minibatch of 512; raise the budget/)]);
  });

  for (const model of ['vae', 'lvm']) {
    it(`${model}: streams, and resuming after epoch 1 equals 2 epochs in one run`, async () => {
      const whole = await cli([...base, '--model', model, '--epochs', '2', '--run-dir', join(dir, `${model}-whole`)]);
      expect(whole.stream).toMatchObject({ chunk_rows: 167 });
      expect(Number.isFinite(whole.test_iwae)).toBe(true);
      await cli([...base, '--model', model, '--epochs', '1', '--run-dir', join(dir, `${model}-first`)]);
      const resumed = await cli([...base, '--model', model, '--epochs', '2', '--run-dir', join(dir, `${model}-resumed`), '--resume', join(dir, `${model}-first`, 'checkpoint.safetensors')]);
      expect(resumed.steps).toBe(whole.steps);
      expect(await params(join(dir, `${model}-resumed`, 'model.safetensors'))).toEqual(await params(join(dir, `${model}-whole`, 'model.safetensors')));
      expect(resumed.test_elbo).toBe(whole.test_elbo);
    });
  }
});

describe('the CLI runner on rows read in slices (ctx.trainSource, ctx.testSource)', () => {
  const W = 16;
  const rowsOf = (count: number, seed: number) => randomArray(count * W, seed, 0, 1);
  const trainX = rowsOf(200, 41);
  const testX = rowsOf(60, 42);
  const slicedOf = (name: string, x: Float32Array): RowSource => ({ ...arraySource(name, x, x.length / W, W), array: null });
  const shape = (name: string, n: number) => ({ name, x: new Float32Array(0), n, D: W });
  const dir = mkdtempSync(join(tmpdir(), 'latentgpu-sliced-'));
  const config = (kind: 'vae' | 'lvm', extra: Record<string, unknown> = {}) => ({
    kind, latent: 2, seed: 1, epochs: 1, batch: 32, checkpointEvery: 0, hidden: [8], objective: 'elbo' as const, varFloor: 1e-3,
    lr: 1e-2, schedule: { kind: 'constant' as const }, samples: 3, phiLr: 0.05, phiSteps: 1, fitSteps: 5, hostMemoryMB: 1, deviceMemoryMB: 1,
    runDir: join(dir, `${kind}-${Object.keys(extra).join('-')}`), ...extra,
  });
  const run = async (kind: 'vae' | 'lvm', train: Float32Array, extra: Record<string, unknown> = {}) => {
    const log: string[] = [];
    const { train: runner } = await import('../src/cli/vae.ts');
    const out = await runner({
      backend: cpu, train: shape('train.f32', 200), test: shape('test.f32', 60), trainSource: slicedOf('train.f32', train), testSource: slicedOf('test.f32', testX),
      config: config(kind, extra) as never, progress: { start() {}, tick() {}, stop() {} }, log: (m) => void log.push(m),
    });
    return { out, log };
  };

  for (const kind of ['vae', 'lvm'] as const) {
    it(`${kind}: trains, evaluates and draws from the sources`, async () => {
      const { out } = await run(kind, trainX);
      expect(out.likelihood).toBe('bernoulli');
      expect(out.stream).toMatchObject({ chunk_rows: 200 });
      for (const k of ['train_elbo', 'test_elbo', 'test_iwae']) expect(Number.isFinite(out[k])).toBe(true);
      expect(out.files).toContain('reconstructions.png');
    });
  }

  it('a value outside [0, 1] in the sliced rows picks the Gaussian decoder, or stops an explicit Bernoulli, naming its row', async () => {
    const x = trainX.slice();
    x[150 * W + 6] = 1.5;
    const { out } = await run('vae', x, { likelihood: undefined });
    expect(out.likelihood).toBe('gaussian');
    expect(out.likelihood_reason).toMatch(/train\.f32 row 151, column 7 has 1\.5/);
    await expect(run('vae', x, { likelihood: 'bernoulli' })).rejects.toThrow(/train\.f32 row 151, column 7 has 1\.5; use the Gaussian decoder/);
  });
});
