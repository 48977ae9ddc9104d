// Stochastic and online EM over rows streamed from a file in chunks (issue 14
// items 3-4): the streamed statistics and centred rows are the in-memory ones,
// a file gives the figures rows in memory give under the same order, fits with
// many chunks (and short last minibatches) reach the closed form, and on MNIST
// the chunk order reaches what full shuffling reaches within the seed spread.
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Backend } from '../src/backend.ts';
import { subsetRows } from '../src/data/dataset.ts';
import { loadMnist } from '../src/data/mnist.node.ts';
import { encodeNpy, parseNpy } from '../src/data/npy.ts';
import { openFileSource } from '../src/data/source.node.ts';
import { arraySource, type RowSource } from '../src/data/source.ts';
import { syntheticPpca } from '../src/data/synthetic.ts';
import { closedFormPpca } from '../src/models/ppca/closed.ts';
import { meanLogLik } from '../src/models/ppca/loglik.ts';
import { readPpca, releaseData, releasePpca, uploadData } from '../src/models/ppca/model.ts';
import { fitOem } from '../src/models/ppca/oem.ts';
import { columnStats, centredHost, internalScale } from '../src/models/ppca/scale.ts';
import { fitSem } from '../src/models/ppca/sem.ts';
import { PpcaStream, centredSource, sourceLogLik } from '../src/models/ppca/stream.ts';
import { TEST_ADAPTERS, cpu, gpuBackend } from './gpu.ts';
import { expectRejected, runCliChild } from './hostile/run.ts';

const dir = mkdtempSync(join(tmpdir(), 'latentgpu-outofcore-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const truth = syntheticPpca({ n: 613, D: 12, d: 2, sigma: 0.4, seed: 5 });
// an offset and scale far from unit, so centring and the internal scale matter
const x = Float32Array.from(truth.data.x, (v, i) => 40 * v + 3 + (i % 12));
const n = truth.data.n;
const D = truth.data.D;
const file = join(dir, 'rows.npy');
writeFileSync(file, encodeNpy(x, n, D));
const host = { name: 'rows', host: x, n, D };

const semOpts = { d: 2, lr: 0.03, tau: 200, kappa: 0.75, seed: 3, evalEvery: 0 } as const;
const oemOpts = { d: 2, kappa: 0.6, seed: 3, evalEvery: 0 } as const;

async function fitStream(b: Backend, src: RowSource, method: 'sem' | 'oem', batch: number, epochs: number, chunkRows: number) {
  const stream = await PpcaStream.open(b, src, { batch, memory: { chunkRows }, norms: method === 'oem' });
  const r = method === 'sem' ? await fitSem(b, stream, { ...semOpts, batch, epochs }) : await fitOem(b, stream, { ...oemOpts, batch, epochs });
  return { r, stream, h: await readPpca(r.model) };
}

describe('streamed rows', () => {
  it('the streamed column statistics and centred rows are the in-memory ones, bit for bit (one slice and many)', async () => {
    const src = openFileSource(file);
    const stats = columnStats(host);
    const stream = await PpcaStream.open(cpu, src, { batch: 10, memory: { chunkRows: n } });
    expect(stream.stats.mu).toEqual(stats.mu);
    expect(stream.stats.variance).toEqual(stats.variance);
    expect(stream.stats.spread).toEqual(stats.spread);
    expect(stream.scale).toBe(internalScale(stats));
    expect(stream.scale).not.toBe(1);
    stream.release();
    const norms = new Float64Array(n);
    const centred = centredSource(src, stats.mu, stream.scale, norms);
    const got = new Float32Array(n * D);
    for (let r0 = 0; r0 < n; r0 += 37) await centred.read(r0, Math.min(37, n - r0), got.subarray(r0 * D));
    expect(got).toEqual(centredHost(host, stats.mu, stream.scale));
    expect(norms[5]).toBe(got.subarray(5 * D, 6 * D).reduce((s, v) => s + v * v, 0));
    await src.close();
  });

  it('the host log-likelihood pass over a source equals the device evaluation', async () => {
    const data = uploadData(cpu, truth.data);
    const r = await fitOem(cpu, data, { ...oemOpts, batch: 50, epochs: 2 });
    const src = arraySource('rows', truth.data.x, n, D);
    const a = await sourceLogLik(r.model, src);
    expect(Math.abs(a - (await meanLogLik(r.model, data)))).toBeLessThan(1e-5 * Math.abs(a));
    releasePpca(r.model);
    releaseData(cpu, data);
  });

  const backends: [string, () => Promise<Backend>][] = [['cpu', async () => cpu], [TEST_ADAPTERS[0]!, () => gpuBackend(TEST_ADAPTERS[0]!)]];
  for (const [name, get] of backends) {
    it(`on ${name}: a file in one chunk gives the figures of the same rows in memory under the same order; chunks of at most 250 rows reach the closed form`, async () => {
      const b = await get();
      const cf = closedFormPpca(host, 2);
      for (const method of ['sem', 'oem'] as const) {
        const fromFile = openFileSource(file, { sliceBytes: 1000 });
        const a = await fitStream(b, fromFile, method, 25, 3, n);
        const c = await fitStream(b, arraySource('rows', x, n, D), method, 25, 3, n);
        expect(a.stream.stream.chunks.length).toBe(1);
        // the same rows in the same order through the same kernels: the same numbers
        expect(a.h.W).toEqual(c.h.W);
        expect(a.h.mu).toEqual(c.h.mu);
        expect(a.r.loglik).toBe(c.r.loglik);
        expect(a.r.steps).toBe(3 * Math.ceil(n / 25));
        releasePpca(a.r.model);
        releasePpca(c.r.model);
        // chunks of at most 250 rows, each of blocks drawn from across the file, double-buffered
        const many = await fitStream(b, fromFile, method, 25, 12, 250);
        const { chunkRows, blockRows, blocksPerChunk } = many.stream.layout;
        expect(chunkRows).toBeLessThanOrEqual(250);
        expect(blocksPerChunk).toBeGreaterThan(1);
        expect(many.stream.stepsPerEpoch).toBe(25);
        expect(many.r.steps).toBe(12 * 25);
        // each block read once per epoch (the chunk an epoch ends on may be the next one's first; one read ahead past the end)
        const blocks = Math.ceil(n / blockRows);
        expect(many.stream.stream.reads).toBeGreaterThanOrEqual(12 * blocks - 11 * blocksPerChunk);
        expect(many.stream.stream.reads).toBeLessThanOrEqual(12 * blocks + blocksPerChunk);
        const gap = cf.loglik - many.r.loglik;
        // the bound ppca.test.ts sets the in-memory fits
        expect(gap, `${method} gap to the closed form`).toBeLessThan(0.15);
        expect(gap, `${method} gap to the closed form`).toBeGreaterThan(-1e-3);
        releasePpca(many.r.model);
        await many.stream.settle();
        await fromFile.close();
      }
    });
  }

  it('MNIST (4,000 of the bundled rows, d = 5): chunk-streamed sem and oem reach full shuffling\'s objective within the spread over seeds', async () => {
    // the bundled split is ordered by digit: chunks of blocks from across the rows still mix the digits
    const train = subsetRows(loadMnist().train, 4000);
    const data = uploadData(cpu, train);
    const src = arraySource('mnist', train.x, train.n, train.D);
    const seeds = [1, 2, 3];
    const table: Record<string, number[]> = {};
    for (const method of ['sem', 'oem'] as const) {
      const opts = method === 'sem' ? { d: 5, batch: 50, epochs: 2, lr: 0.001, tau: 1000, kappa: 0.75, evalEvery: 0 } : { d: 5, batch: 50, epochs: 2, kappa: 0.6, evalEvery: 0 };
      for (const mode of ['shuffled', 'chunks'] as const) {
        const lls: number[] = [];
        for (const seed of seeds) {
          const r = mode === 'shuffled'
            ? await (method === 'sem' ? fitSem(cpu, data, { ...opts, seed } as never) : fitOem(cpu, data, { ...opts, seed } as never))
            // chunks of at most 400 rows: 10 or more an epoch
            : await (async () => {
              const stream = await PpcaStream.open(cpu, src, { batch: 50, memory: { chunkRows: 400 }, norms: method === 'oem' });
              return method === 'sem' ? fitSem(cpu, stream, { ...opts, seed } as never) : fitOem(cpu, stream, { ...opts, seed } as never);
            })();
          lls.push(mode === 'shuffled' ? r.loglik : await meanLogLik(r.model, data));
          releasePpca(r.model);
        }
        table[`${method} ${mode}`] = lls;
      }
      const mean = (v: number[]) => v.reduce((s, u) => s + u, 0) / v.length;
      const spread = (v: number[]) => Math.max(...v) - Math.min(...v);
      const a = table[`${method} shuffled`]!;
      const c = table[`${method} chunks`]!;
      if (process.env.LATENTGPU_PRINT_TABLES) console.log(method, 'shuffled', a, 'chunks', c);
      // the two means differ by less than the larger seed spread plus a small floor
      expect(Math.abs(mean(a) - mean(c)), `${method}: ${a.join(', ')} vs ${c.join(', ')}`).toBeLessThan(Math.max(spread(a), spread(c)) + 0.5);
    }
    releaseData(cpu, data);
  }, 300_000);
});

describe('the command line streams a file over --host-memory', () => {
  // 96,000 × 784 float32: 301 MB (287 MiB), written in slices of low-rank rows plus noise
  const big = join(dir, 'big.npy');
  const rows = 96_000;
  const cols = 784;
  const header = encodeNpy(new Float32Array(0), 0, cols);
  const head = new TextDecoder('latin1').decode(header.subarray(10)).replace('(0, ', `(${rows}, `).trimEnd();
  const text = `${head.padEnd(Math.ceil((11 + head.length) / 64) * 64 - 11)}\n`;
  const bytes = new Uint8Array(10 + text.length);
  bytes.set(header.subarray(0, 8));
  new DataView(bytes.buffer).setUint16(8, text.length, true);
  bytes.set(new TextEncoder().encode(text), 10);
  const fd = openSync(big, 'w');
  writeSync(fd, bytes);
  const R = 4096;
  const slice = new Float32Array(R * cols);
  let s = 7;
  const u = (): number => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return s / 2 ** 32 - 0.5;
  };
  for (let r0 = 0; r0 < rows; r0 += R) {
    const m = Math.min(R, rows - r0);
    for (let i = 0; i < m; i++) {
      const z1 = u();
      const z2 = u();
      for (let j = 0; j < cols; j++) slice[i * cols + j] = z1 * Math.sin(j) + z2 * Math.cos(3 * j) + 0.2 * u();
    }
    writeSync(fd, new Uint8Array(slice.buffer, 0, m * cols * 4));
  }
  closeSync(fd);
  const fileMb = statSync(big).size / 2 ** 20;

  it('stochastic EM trains on a 287 MiB file with --host-memory 32 --device-memory 16, peak RSS within 96 MiB (a third of the file) of a tiny file\'s', () => {
    const r = runCliChild(['train', '--model', 'ppca', '--method', 'sem', '--latent', '2', '--data', big, '--host-memory', '32', '--device-memory', '16', '--epochs', '1', '--batch', '200', '--backend', 'cpu', '--json'], { timeoutMs: 180_000 });
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as Record<string, unknown>;
    expect([out.n_train, out.n_test, out.D]).toEqual([76_800, 19_200, 784]);
    expect(out.streamed).toMatchObject({ from_file: true });
    expect(Number.isFinite(out.test_loglik)).toBe(true);
    // the same command on the 613-row file: what node, the modules and the backend take anyway
    const small = runCliChild(['train', '--model', 'ppca', '--method', 'sem', '--latent', '2', '--data', file, '--epochs', '1', '--batch', '200', '--backend', 'cpu', '--json']);
    expect(small.code, small.stderr).toBe(0);
    // streaming adds the staging (8 MiB), the two 8 MiB chunk buffers (host memory on the cpu backend), the row norms and
    // the garbage collector's slack (64.7 MiB measured once); read whole, the file alone would be 287 MiB
    const added = r.maxRssMb! - small.maxRssMb!;
    expect(added, `peak ${r.maxRssMb!.toFixed(0)} MiB for a ${fileMb.toFixed(0)} MiB file, ${small.maxRssMb!.toFixed(0)} MiB for a tiny one`).toBeLessThan(96);
  }, 200_000);

  it('a method that does not stream, a CSV over the budget, and a raw file without or with a wrong --dim are one-line errors', () => {
    expectRejected(runCliChild(['train', '--model', 'ppca', '--method', 'closed', '--latent', '2', '--data', big, '--host-memory', '32']),
      ['big.npy is 287.1 MiB, over the host-memory budget of 32.0 MiB (--host-memory)', 'only ppca --method sem, oem, em, squarem, anderson; vae; lvm read a file in slices'], { rssMb: 300 });
    const raw = join(dir, 'rows.f32');
    writeFileSync(raw, new Uint8Array(x.buffer));
    expectRejected(runCliChild(['train', '--model', 'ppca', '--data', raw]), ['a raw float32 file has no header', '--dim D']);
    expectRejected(runCliChild(['train', '--model', 'ppca', '--data', raw, '--dim', '7']), ['rows.f32', 'not whole rows of 7 float32 values']);
    const ok = runCliChild(['train', '--model', 'ppca', '--method', 'closed', '--latent', '2', '--data', raw, '--dim', String(D), '--backend', 'cpu', '--json']);
    expect(ok.code, ok.stderr).toBe(0);
    expect((JSON.parse(ok.stdout) as { n_train: number }).n_train).toBe(n - Math.floor(n / 5));
  }, 120_000);

  it('convert saves a CSV as float32 .npy (atomically, never onto an input), which then reads as the CSV did', () => {
    const csv = join(dir, 'table.csv');
    writeFileSync(csv, 'a,b,c\n1,2,3\n4.5,-5,6e2\n');
    const out = join(dir, 'table.npy');
    const r = runCliChild(['convert', csv, out, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ command: 'convert', rows: 2, cols: 3 });
    expect(Array.from(parseNpy(readFileSync(out)).x)).toEqual([1, 2, 3, 4.5, -5, 600]);
    expectRejected(runCliChild(['convert', out, out], { watch: [out] }), ['is the same file as the input', 'table.npy']);
    expectRejected(runCliChild(['convert', csv, join(dir, 'table.txt')]), ['convert writes a .npy file']);
    expectRejected(runCliChild(['convert', join(dir, 'absent.csv'), join(dir, 'absent.npy')]), ['no such file']);
  }, 60_000);

  it('train --model vae|lvm reads a file over --host-memory in slices: the figures of the same rows read whole under the same device budget', () => {
    const mid = syntheticPpca({ n: 30_000, D: 20, d: 3, sigma: 0.5, seed: 2 }).data;
    const path = join(dir, 'mid-latent.npy');
    writeFileSync(path, encodeNpy(mid.x, mid.n, mid.D)); // 2.3 MiB, over --host-memory 1
    for (const model of ['vae', 'lvm']) {
      const base = ['train', '--model', model, '--latent', '2', '--hidden', '16', '--data', path, '--device-memory', '1', '--epochs', '1', '--backend', 'cpu', '--json'];
      const run = (extra: string[]): Record<string, unknown> => {
        const r = runCliChild([...base, ...extra], { timeoutMs: 120_000 });
        expect(r.code, r.stderr).toBe(0);
        return JSON.parse(r.stdout) as Record<string, unknown>;
      };
      const sliced = run(['--host-memory', '1']);
      const whole = run([]);
      expect(sliced.stream, model).toMatchObject({ chunk_rows: expect.any(Number) });
      expect(Number.isFinite(sliced.train_elbo), model).toBe(true);
      expect([sliced.train_elbo, sliced.test_elbo], model).toEqual([whole.train_elbo, whole.test_elbo]);
    }
  }, 300_000);

  it('a streamed run checkpoints and resumes bit for bit; --device-memory streams rows that are in memory', () => {
    const mid = syntheticPpca({ n: 30_000, D: 20, d: 3, sigma: 0.5, seed: 2 }).data;
    const path = join(dir, 'mid.npy');
    writeFileSync(path, encodeNpy(mid.x, mid.n, mid.D)); // 2.3 MiB, over --host-memory 1
    const runDir = join(dir, 'run');
    const base = ['train', '--model', 'ppca', '--method', 'oem', '--latent', '3', '--data', path, '--host-memory', '1', '--backend', 'cpu', '--json'];
    const json = (r: ReturnType<typeof runCliChild>): Record<string, unknown> => {
      expect(r.code, r.stderr).toBe(0);
      return JSON.parse(r.stdout) as Record<string, unknown>;
    };
    const first = json(runCliChild([...base, '--epochs', '1', '--checkpoint-every', '1', '--run-dir', runDir]));
    expect(first.streamed).toMatchObject({ from_file: true });
    const resumed = json(runCliChild([...base, '--epochs', '2', '--resume', join(runDir, 'checkpoint.safetensors'), '--run-dir', runDir]));
    const whole = json(runCliChild([...base, '--epochs', '2']));
    expect(resumed.train_loglik).toBe(whole.train_loglik);
    expect(resumed.test_loglik).toBe(whole.test_loglik);
    // in memory (no --host-memory), over a 1 MiB device budget: streamed from the rows in memory
    const dev = json(runCliChild(['train', '--model', 'ppca', '--method', 'oem', '--latent', '3', '--data', path, '--device-memory', '1', '--epochs', '1', '--backend', 'cpu', '--json']));
    expect(dev.streamed).toMatchObject({ from_file: false });
    expect(dev.gap_to_closed_form as number).toBeLessThan(0.15);
  }, 120_000);
});
