// Hostile model files and checkpoints: metadata of the wrong type or range,
// tensors of the wrong dtype, non-finite or overflowing parameters, configs
// that are broken or claim huge networks, special files, huge headers,
// truncations and seeded byte flips, and stale temp files of killed runs.
// Each input is rejected with one clear line naming the file and the problem,
// or loads with finite values — never a crash, a hang or a runaway allocation.
// The decoders run in-process; a representative set goes through the real
// command line (test/hostile).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HostRng } from '../src/train/rng.ts';
import { loadSafetensors, loadSafetensorsMetadata, saveSafetensors, sweepStaleTemps } from '../src/io/atomic.node.ts';
import {
  LATENT_LIMITS, MAX_PARAM_ABS, decodeLatentModel, encodeLatentModel, latentParamSize, readMetaInt, readMetaJson,
  readMetaNumber, requireF32, type LatentFileConfig,
} from '../src/io/modelFile.ts';
import { ModelFileError, SAFETENSORS_LIMITS, decodeSafetensors, encodeSafetensors, type Safetensors, type TensorMap } from '../src/io/safetensors.ts';
import { buildModel, decodeModelFile, encodeModelFile } from '../src/lib/modelFiles.ts';
import { makeDataset } from '../src/data/dataset.ts';
import { Lvm, type LvmConfig } from '../src/models/lvm.ts';
import { ppcaFromTensors, ppcaToTensors } from '../src/models/ppca/file.ts';
import { Vae, type VaeConfig } from '../src/models/vae.ts';
import { decodeRunFile, loadRun } from '../src/lib/runs.ts';
import { expectRejected, runCliChild } from './hostile/run.ts';
import { cpu } from './gpu.ts';

const dir = mkdtempSync(join(tmpdir(), 'latentgpu-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f]/;

// the CLI run whose files the hostile variants are made from (MNIST D = 784)
const TRAIN = ['--backend', 'cpu', '--subset', '256', '--test-subset', '64', '--hidden', '16', '--latent', '2', '--samples', '2'];
const EVAL = ['--backend', 'cpu', '--subset', '64', '--test-subset', '64', '--samples', '2'];
const modelPath = join(dir, 'model.safetensors');
const runDir = join(dir, 'run');
const checkpointPath = join(runDir, 'checkpoint.safetensors');
let model: Safetensors;
let checkpoint: Safetensors;

beforeAll(() => {
  const r = runCliChild(['train', '--model', 'vae', ...TRAIN, '--epochs', '1', '--checkpoint-every', '1', '--out', modelPath, '--run-dir', runDir, '--json']);
  expect(r.code, r.stderr).toBe(0);
  model = decodeSafetensors(readFileSync(modelPath));
  checkpoint = decodeSafetensors(readFileSync(checkpointPath));
}, 60_000);

/** A copy of a decoded file with metadata and tensors replaced (undefined deletes). */
function variant(base: Safetensors, meta: Record<string, string | undefined> = {}, tensors: Record<string, TensorMap[string] | undefined> = {}): Safetensors {
  const metadata = { ...base.metadata };
  for (const [k, v] of Object.entries(meta)) {
    if (v === undefined) delete metadata[k];
    else metadata[k] = v;
  }
  const t: TensorMap = { ...base.tensors };
  for (const [k, v] of Object.entries(tensors)) {
    if (v === undefined) delete t[k];
    else t[k] = v;
  }
  return { metadata, tensors: t };
}

function withConfig(base: Safetensors, edit: (c: Record<string, unknown>) => void): Safetensors {
  const c = JSON.parse(base.metadata.config!) as Record<string, unknown>;
  edit(c);
  return variant(base, { config: JSON.stringify(c) });
}

function write(name: string, file: Safetensors): string {
  const path = join(dir, name);
  writeFileSync(path, encodeSafetensors(file.tensors, file.metadata));
  return path;
}

const f32 = (data: Float32Array): TensorMap[string] => ({ dtype: 'F32', shape: [data.length], data });
const paramsOf = (f: Safetensors): Float32Array => f.tensors.params!.data as Float32Array;
const filled = (f: Safetensors, value: number): TensorMap[string] => f32(new Float32Array(paramsOf(f).length).fill(value));

/** The decoder's verdict: a one-line ModelFileError naming `source` and matching each fragment. */
function expectDecodeError(fn: () => unknown, source: string, ...fragments: Array<string | RegExp>): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught, 'expected a ModelFileError').toBeInstanceOf(ModelFileError);
  const m = (caught as Error).message;
  expect(m).toContain(source);
  expect(m).not.toMatch(/\n/);
  expect(m).not.toMatch(CONTROL);
  for (const f of fragments) {
    if (typeof f === 'string') expect(m).toContain(f);
    else expect(m).toMatch(f);
  }
}

describe('metadata and tensor readers', () => {
  const meta = { abc: 'abc', neg: '-5', frac: '2.5', huge: '1e400', ok: '7', ctl: 'a\u0007b', json: '{"a":', pi: '3.25' };

  it('reads integers and rejects words, negatives, fractions, exponents and out-of-range values', () => {
    expect(readMetaInt(meta, 'ok', 'f.safetensors')).toBe(7);
    expect(readMetaInt(meta, 'missing', 'f.safetensors', { optional: true })).toBeUndefined();
    for (const k of ['abc', 'neg', 'frac', 'huge']) expectDecodeError(() => readMetaInt(meta, k, 'f.safetensors'), 'f.safetensors', `"${k}"`, 'integer');
    expectDecodeError(() => readMetaInt(meta, 'ok', 'f.safetensors', { max: 5 }), 'f.safetensors', 'between 0 and 5');
    expectDecodeError(() => readMetaInt(meta, 'missing', 'f.safetensors'), 'f.safetensors', 'no "missing"');
    expectDecodeError(() => readMetaInt(meta, 'ctl', 'f.safetensors'), 'f.safetensors', '\\u0007');
  });

  it('reads finite numbers and JSON, naming the key', () => {
    expect(readMetaNumber(meta, 'pi', 'f')).toBe(3.25);
    expectDecodeError(() => readMetaNumber(meta, 'huge', 'f.safetensors'), 'f.safetensors', '"huge"', 'finite');
    expectDecodeError(() => readMetaJson(meta, 'json', 'f.safetensors'), 'f.safetensors', 'metadata "json" is not valid JSON (');
  });

  it('requires F32 tensors of the stated shape with finite values within the magnitude limit', () => {
    const t: TensorMap = {
      u8: { dtype: 'U8', shape: [2], data: Uint8Array.of(1, 2) },
      f64: { dtype: 'F64', shape: [2], data: Float64Array.of(1, 2) },
      nan: f32(Float32Array.of(0, 1, NaN)),
      big: f32(Float32Array.of(0, 1e30)),
      ok: f32(Float32Array.of(1, 2)),
    };
    expectDecodeError(() => requireF32(t, 'u8', 'f.safetensors'), 'f.safetensors', '"u8" is U8', 'F32');
    expectDecodeError(() => requireF32(t, 'f64', 'f.safetensors'), 'f.safetensors', '"f64" is F64');
    expectDecodeError(() => requireF32(t, 'nan', 'f.safetensors'), 'f.safetensors', 'NaN at index 2');
    expectDecodeError(() => requireF32(t, 'big', 'f.safetensors', { maxAbs: 1e6 }), 'f.safetensors', 'at index 1', 'overflow');
    expectDecodeError(() => requireF32(t, 'ok', 'f.safetensors', { shape: [3] }), 'f.safetensors', 'shape [2], expected [3]');
    expect(Array.from(requireF32(t, 'ok', 'f', { length: 2 }))).toEqual([1, 2]);
  });
});

describe('the vae/lvm model-file decoder', () => {
  it('accepts the files train writes, model and checkpoint alike', () => {
    const m = decodeLatentModel(model, 'model.safetensors');
    expect(m.kind).toBe('vae');
    expect(m.params.length).toBe(latentParamSize(m.kind, m.config));
    expect(m.hasState).toBe(false);
    const c = decodeLatentModel(checkpoint, 'checkpoint.safetensors', { requireState: true });
    expect(c.hasState).toBe(true);
    expect(c.epoch).toBe(1);
  });

  it('computes the parameter layout size without building the network, equal to the built models', () => {
    const D = 12;
    const n = 3;
    const x = new Float32Array(n * D).fill(0.5);
    const base = {
      dataDim: D, latent: 3, decoderHidden: [5, 7], act: 'relu' as const, likelihood: 'bernoulli' as const, variance: 'vector' as const,
      varFloor: 1e-3, varCeil: 4, objective: 'elbo' as const, seed: 1,
    };
    const variants = [
      {}, { likelihood: 'gaussian' as const }, { likelihood: 'gaussian' as const, variance: 'output' as const },
      { decoderHidden: [] }, { latent: 1, decoderHidden: [65] },
    ];
    for (const v of variants) {
      const vc: VaeConfig = { ...base, ...v, encoderHidden: [9, 4] };
      const vae = new Vae(cpu, vc, x, n);
      expect(latentParamSize('vae', vc), JSON.stringify(vc)).toBe(vae.layout.size);
      vae.release();
      const lc: LvmConfig = { ...base, ...v, phiLr: 0.01, phiSteps: 1 };
      const lvm = new Lvm(cpu, lc, x, n);
      expect(latentParamSize('lvm', lc), JSON.stringify(lc)).toBe(lvm.layout.size);
      lvm.release();
    }
  });

  it('sizes a model by its kind, not by the keys its config holds: another kind\'s key is refused, and dropped on save', async () => {
    const D = 12;
    const n = 4;
    const lc: LvmConfig = {
      dataDim: D, latent: 3, decoderHidden: [5], act: 'relu', likelihood: 'bernoulli', variance: 'vector',
      varFloor: 1e-3, varCeil: 4, objective: 'elbo', seed: 1, phiLr: 0.01, phiSteps: 1,
    };
    const lvmSize = latentParamSize('lvm', lc);
    const vaeSize = latentParamSize('vae', { ...lc, encoderHidden: [9] });
    expect(vaeSize).toBeGreaterThan(lvmSize);
    const file = (kind: string, config: object, size: number): Safetensors => ({
      metadata: { model: kind, format: 'latentgpu-1', config: JSON.stringify(config) },
      tensors: { params: f32(new Float32Array(size)) },
    });
    // an lvm config with a stray encoderHidden: refused by name, with params sized for the lvm or for a vae
    for (const size of [lvmSize, vaeSize]) {
      expectDecodeError(() => decodeLatentModel(file('lvm', { ...lc, encoderHidden: [9] }, size), 'stray.safetensors'),
        'stray.safetensors', '"encoderHidden"', 'per-point (lvm) model does not have');
    }
    expectDecodeError(() => decodeLatentModel(file('vae', { ...lc, encoderHidden: [9] }, vaeSize), 'v.safetensors'), 'v.safetensors', '"phiLr"', 'a vae does not have');
    expectDecodeError(() => decodeLatentModel(file('lvm', { ...lc, hidden: [5] }, lvmSize), 'l'), 'l', '"hidden"');
    expectDecodeError(() => decodeLatentModel(file('lvm', { ...lc, adam: { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, amsgrad: true } }, lvmSize), 'l'),
      'l', '"amsgrad" in config.adam');
    expect(decodeLatentModel(file('lvm', lc, lvmSize), 'l').params.length).toBe(lvmSize);

    // a per-point model built from a config carrying encoderHidden has no encoder; its file holds what it was built from
    const x = new Float32Array(n * D).fill(0.5);
    const lvm = new Lvm(cpu, { ...lc, encoderHidden: [9] } as LvmConfig, x, n);
    expect(lvm.layout.size).toBe(lvmSize);
    const saved = decodeModelFile(await encodeModelFile(lvm), 'saved.safetensors');
    lvm.release();
    expect(saved.kind).toBe('lvm');
    if (saved.kind !== 'lvm') return;
    expect(Object.keys(saved.config)).not.toContain('encoderHidden');
    expect(saved.params.length).toBe(lvmSize);
    const built = buildModel(cpu, saved, makeDataset('rows', x, n, D));
    expect(built.kind === 'lvm' && built.model.layout.size).toBe(lvmSize);
    if (built.kind === 'lvm') built.model.release();
  });

  it('rejects checkpoint counters that are not non-negative integers', () => {
    for (const epoch of ['abc', '-5', '2.5', '1e400', '']) {
      expectDecodeError(() => decodeLatentModel(variant(checkpoint, { epoch }), 'ck.safetensors'), 'ck.safetensors', 'metadata "epoch"');
    }
    for (const key of ['step', 'batch', 'train_rows']) {
      expectDecodeError(() => decodeLatentModel(variant(checkpoint, { [key]: '-1' }), 'ck.safetensors'), 'ck.safetensors', `metadata "${key}"`);
    }
  });

  it('rejects params stored as U8 or F64, and missing optimizer state in a checkpoint', () => {
    const n = paramsOf(checkpoint).length;
    expectDecodeError(() => decodeLatentModel(variant(checkpoint, {}, { params: { dtype: 'U8', shape: [n * 4], data: new Uint8Array(n * 4) } }), 'ck'),
      'ck', 'tensor "params" holds');
    expectDecodeError(() => decodeLatentModel(variant(checkpoint, {}, { params: { dtype: 'U8', shape: [n], data: new Uint8Array(n) } }), 'ck'),
      'ck', '"params" is U8');
    expectDecodeError(() => decodeLatentModel(variant(checkpoint, {}, { params: { dtype: 'F64', shape: [n], data: new Float64Array(n) } }), 'ck'),
      'ck', '"params" is F64');
    expectDecodeError(() => decodeLatentModel(variant(checkpoint, {}, { 'adam.v': undefined }), 'ck', { requireState: true }), 'ck', 'no tensor "adam.v"');
  });

  it('rejects NaN, infinite and overflowing parameters, naming the tensor and the index', () => {
    const nan = Float32Array.from(paramsOf(model));
    nan[17] = NaN;
    expectDecodeError(() => decodeLatentModel(variant(model, {}, { params: f32(nan) }), 'm'), 'm', '"params" holds NaN at index 17');
    expectDecodeError(() => decodeLatentModel(variant(model, {}, { params: filled(model, -Infinity) }), 'm'), 'm', '-Infinity at index 0');
    expectDecodeError(() => decodeLatentModel(variant(model, {}, { params: filled(model, 1e30) }), 'm'), 'm', 'at index 0', `±${MAX_PARAM_ABS.toExponential(0)}`);
  });

  it('names a broken or incomplete config, and checks its sizes before anything is allocated', () => {
    expectDecodeError(() => decodeLatentModel(variant(model, { config: '{"dataDim": 784,' }), 'm.safetensors'), 'm.safetensors', 'metadata "config" is not valid JSON (');
    expectDecodeError(() => decodeLatentModel(variant(model, { config: undefined }), 'm.safetensors'), 'm.safetensors', 'no "config"');
    expectDecodeError(() => decodeLatentModel(withConfig(model, (c) => delete c.latent), 'm.safetensors'), 'm.safetensors', 'no "latent"');
    expectDecodeError(() => decodeLatentModel(withConfig(model, (c) => { c.latent = '2'; }), 'm.safetensors'), 'm.safetensors', '"latent"', 'integer');
    expectDecodeError(() => decodeLatentModel(withConfig(model, (c) => { c.likelihood = 'poisson'; }), 'm.safetensors'), 'm.safetensors', '"likelihood"');
    expectDecodeError(() => decodeLatentModel(withConfig(model, (c) => { c.encoderHidden = 16; }), 'm.safetensors'), 'm.safetensors', '"encoderHidden"');
    expectDecodeError(() => decodeLatentModel(variant(model, { model: 'gan' }), 'm.safetensors'), 'm.safetensors', '"gan" model');
    expectDecodeError(() => decodeLatentModel(variant(model, { format: 'latentgpu-9' }), 'm.safetensors'), 'm.safetensors', '"format"');
    // 1e8 hidden units: over the width cap; within it, the implied size against the stored params
    const t0 = performance.now();
    expectDecodeError(() => decodeLatentModel(withConfig(model, (c) => { c.encoderHidden = [1e8]; }), 'm.safetensors'), 'm.safetensors', `1 to ${LATENT_LIMITS.width}`);
    expectDecodeError(() => decodeLatentModel(withConfig(model, (c) => { c.encoderHidden = [65_536, 65_536]; }), 'm.safetensors'), 'm.safetensors', 'over the limit');
    expectDecodeError(() => decodeLatentModel(withConfig(model, (c) => { c.encoderHidden = [4096]; }), 'm.safetensors'), 'm.safetensors',
      /tensor "params" holds \d+ parameters but the config .* needs \d+/);
    expect(performance.now() - t0).toBeLessThan(500);
  });

  it('is the decoder a page loads runs with (decodeRunFile, loadRun)', async () => {
    const bytes = encodeSafetensors(variant(model, { epochs: '-5' }).tensors, variant(model, { epochs: '-5' }).metadata);
    expectDecodeError(() => decodeRunFile(bytes), 'the model file', 'metadata "epochs"');
    // the kind is checked before any model is built
    const rows = makeDataset('rows', new Float32Array(5 * 4), 5, 4);
    await expect(loadRun(cpu, encodeSafetensors(model.tensors, model.metadata), { kind: 'lvm' }, rows, rows)).rejects.toThrow("holds a 'vae' model, not lvm");
    const ok = decodeRunFile(encodeLatentModel({ kind: 'vae', config: JSON.parse(model.metadata.config!) as LatentFileConfig, tensors: { params: paramsOf(model) }, metadata: { step: 2, epochs: 1, train_rows: 256 } }));
    expect([ok.kind, ok.file.kind === 'vae' && ok.file.step]).toEqual(['vae', 2]);
  });
});

describe('PPCA model files', () => {
  const D = 5;
  const d = 2;
  const good = ppcaToTensors({ D, d, W: new Float32Array(D * d).fill(0.5), mu: new Float32Array(D), sigma2: 0.25 });
  const file = (W: Float32Array, mu = new Float32Array(D), sigma2 = 0.25, meta: Record<string, string> = {}): Safetensors => ({
    tensors: { ...good.tensors, W: { dtype: 'F32', shape: [D, d], data: W }, mu: f32(mu), sigma2: { dtype: 'F64', shape: [], data: Float64Array.of(sigma2) } },
    metadata: { ...good.metadata, ...meta },
  });

  it('loads a good file and rejects overflowing, non-finite or inconsistent parameters', () => {
    expect(ppcaFromTensors(file(new Float32Array(D * d).fill(0.5)), 'p.safetensors').sigma2).toBe(0.25);
    expectDecodeError(() => ppcaFromTensors(file(new Float32Array(D * d).fill(3e38)), 'p.safetensors'), 'p.safetensors', '"W"', 'index 0', 'overflow');
    const mu = new Float32Array(D);
    mu[3] = NaN;
    expectDecodeError(() => ppcaFromTensors(file(new Float32Array(D * d), mu), 'p.safetensors'), 'p.safetensors', '"mu" holds NaN at index 3');
    for (const s2 of [0, -1, Infinity, NaN, 1e-40]) expectDecodeError(() => ppcaFromTensors(file(new Float32Array(D * d), undefined, s2), 'p.safetensors'), 'p.safetensors', 'sigma2');
    expectDecodeError(() => ppcaFromTensors(file(new Float32Array(D * d), undefined, 1, { D: '6' }), 'p.safetensors'), 'p.safetensors', 'metadata says D 6');
    expectDecodeError(() => ppcaFromTensors(file(new Float32Array(D * d), undefined, 1, { latent: 'x' }), 'p.safetensors'), 'p.safetensors', 'metadata "latent"');
  });
});

describe('safetensors containers', () => {
  it('refuses a header with 600k junk entries before parsing it, quickly and without memory', () => {
    const md: Record<string, string> = {};
    for (let i = 0; i < 600_000; i++) md[`k${i}`] = '';
    const header = new TextEncoder().encode(JSON.stringify({ __metadata__: md }));
    const bytes = new Uint8Array(8 + header.length);
    new DataView(bytes.buffer).setUint32(0, header.length, true);
    bytes.set(header, 8);
    const t0 = performance.now();
    expectDecodeError(() => decodeSafetensors(bytes), 'not a valid safetensors file', `${SAFETENSORS_LIMITS.headerBytes}-byte limit`);
    // within the byte limit, the key count is refused before JSON.parse
    const small = bytes.subarray(0, 8 + 4 * 2 ** 20 - 8);
    small[small.length - 1] = 0x7d;
    new DataView(small.buffer).setUint32(0, small.length - 8, true);
    expectDecodeError(() => decodeSafetensors(small), 'not a valid safetensors file', 'keys');
    expect(performance.now() - t0).toBeLessThan(500);
  });

  it('refuses a header length beyond the file, and every truncation of a model file', () => {
    const bytes = encodeSafetensors(model.tensors, model.metadata);
    const header = new DataView(bytes.buffer).getUint32(0, true);
    const long = Uint8Array.from(bytes);
    new DataView(long.buffer).setUint32(0, bytes.length, true);
    expectDecodeError(() => decodeSafetensors(long), '', 'truncated');
    for (const cut of [0, 3, 8, 9, 8 + header - 1, 8 + header, 8 + header + 1, bytes.length - 4, bytes.length - 1]) {
      expectDecodeError(() => decodeSafetensors(bytes.subarray(0, cut)), 'not a valid safetensors file');
    }
  });

  it('rejects or loads every seeded byte flip of a model file and a checkpoint (never another error)', () => {
    const rnd = new HostRng(12, 'mulberry32');
    let loaded = 0;
    let rejected = 0;
    for (const base of [model, checkpoint]) {
      const bytes = encodeSafetensors(base.tensors, base.metadata);
      const headerEnd = 8 + new DataView(bytes.buffer).getUint32(0, true);
      for (let k = 0; k < 150; k++) {
        const m = Uint8Array.from(bytes);
        // most flips in the header, where the structure is
        for (let f = 1 + Math.floor(rnd.uniform() * 4); f > 0; f--) {
          const at = Math.floor(rnd.uniform() * (rnd.uniform() < 0.8 ? headerEnd : m.length));
          m[at] = Math.floor(rnd.uniform() * 256);
        }
        try {
          const f = decodeLatentModel(decodeSafetensors(m), 'flip.safetensors');
          expect(f.params.length).toBe(latentParamSize(f.kind, f.config));
          expect(f.params.every((v) => Math.abs(v) <= MAX_PARAM_ABS)).toBe(true);
          loaded++;
        } catch (e) {
          expect(e, String(e)).toBeInstanceOf(ModelFileError);
          expect((e as Error).message).not.toMatch(CONTROL);
          expect((e as Error).message.length).toBeLessThan(600);
          rejected++;
        }
      }
    }
    expect(loaded + rejected).toBe(300);
    expect(rejected).toBeGreaterThan(100);
  });

  it('reads only regular files, and the header alone for metadata', async () => {
    if (existsSync('/dev/zero')) {
      await expect(loadSafetensors('/dev/zero')).rejects.toThrow(/\/dev\/zero: it is not a regular file/);
      await expect(loadSafetensorsMetadata('/dev/zero')).rejects.toThrow(/not a regular file/);
    }
    await expect(loadSafetensors(dir)).rejects.toThrow(/is a directory/);
    await expect(loadSafetensors(join(dir, 'absent.safetensors'))).rejects.toThrow(/absent\.safetensors: no such file/);
    expect((await loadSafetensorsMetadata(modelPath)).model).toBe('vae');
  });
});

describe('stale temp files', () => {
  it('removes temps of dead processes, never a live process\'s, and sweeps on save', async () => {
    const sub = join(dir, 'temps');
    const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
    const name = (pid: number, hex: string): string => `.m.safetensors.${pid}.${hex}.tmp`;
    mkdirSync(sub);
    writeFileSync(join(sub, name(dead, 'aaaaaaaaaaaa')), 'stale');
    writeFileSync(join(sub, name(process.pid, 'bbbbbbbbbbbb')), 'ours, in flight');
    writeFileSync(join(sub, '.other.1.cccccccccccc'), 'not a temp');
    expect(await sweepStaleTemps(sub)).toEqual([name(dead, 'aaaaaaaaaaaa')]);
    expect(existsSync(join(sub, name(process.pid, 'bbbbbbbbbbbb')))).toBe(true);
    expect(existsSync(join(sub, '.other.1.cccccccccccc'))).toBe(true);
    // a save sweeps the stale temps of its own target
    writeFileSync(join(sub, name(dead, 'dddddddddddd')), 'stale');
    await saveSafetensors(join(sub, 'm.safetensors'), { a: f32(Float32Array.of(1)) });
    expect(existsSync(join(sub, name(dead, 'dddddddddddd')))).toBe(false);
    expect(existsSync(join(sub, name(process.pid, 'bbbbbbbbbbbb')))).toBe(true);
  });
});

describe('hostile model files through the command line', () => {
  const evalOf = (path: string, watch = [path]) => runCliChild(['eval', '--model', path, ...EVAL], { watch });

  it('eval --model /dev/zero is refused at once', () => {
    if (!existsSync('/dev/zero')) return;
    expectRejected(evalOf('/dev/zero', []), ['/dev/zero', 'not a regular file'], { ms: 10_000, rssMb: 400 });
  });

  it('a small file whose config claims 1e8 hidden units is refused before anything is allocated', () => {
    const path = write('huge-config.safetensors', withConfig(model, (c) => { c.encoderHidden = [1e8]; c.decoderHidden = [1e8]; }));
    expectRejected(evalOf(path), [path, 'encoderHidden'], { ms: 10_000, rssMb: 400 });
    const wide = write('wide-config.safetensors', withConfig(model, (c) => { c.decoderHidden = [60_000]; }));
    expectRejected(evalOf(wide), [wide, 'tensor "params" holds'], { ms: 10_000, rssMb: 400 });
  });

  it('NaN or overflowing parameters never give exit 0 with a NaN figure', () => {
    const nan = write('nan.safetensors', variant(model, {}, { params: filled(model, NaN) }));
    expectRejected(evalOf(nan), [nan, 'NaN at index 0']);
    const big = write('big.safetensors', variant(model, {}, { params: filled(model, 1e30) }));
    expectRejected(evalOf(big), [big, 'overflow']);
    // finite and within the load limit, yet overflowing in float32: refused after evaluation
    const edge = write('edge.safetensors', variant(model, {}, { params: filled(model, 1e5) }));
    expectRejected(evalOf(edge), [edge, 'overflow']);
  });

  it('a PPCA file with W = 3e38 is refused', () => {
    const t = ppcaToTensors({ D: 784, d: 2, W: new Float32Array(784 * 2).fill(3e38), mu: new Float32Array(784), sigma2: 1 });
    const path = write('ppca-big.safetensors', t);
    expectRejected(evalOf(path), [path, '"W"', 'overflow']);
  });

  it('a bad config JSON and a header longer than the file are named', () => {
    const bad = write('bad-json.safetensors', variant(model, { config: '{"dataDim":' }));
    expectRejected(evalOf(bad), [bad, 'metadata "config" is not valid JSON']);
    const bytes = encodeSafetensors(model.tensors, model.metadata);
    new DataView(bytes.buffer).setUint32(0, bytes.length, true);
    const long = join(dir, 'long-header.safetensors');
    writeFileSync(long, bytes);
    expectRejected(evalOf(long), [long, 'truncated']);
  });

  it('--resume refuses a checkpoint with a bad epoch or params stored as U8', () => {
    const resume = (path: string) => runCliChild(['train', '--model', 'vae', ...TRAIN, '--epochs', '2', '--resume', path, '--run-dir', join(dir, 'resumed')], { watch: [path] });
    const epoch = write('ck-epoch.safetensors', variant(checkpoint, { epoch: 'abc' }));
    expectRejected(resume(epoch), [epoch, 'metadata "epoch" is "abc"']);
    const n = paramsOf(checkpoint).length;
    const u8 = write('ck-u8.safetensors', variant(checkpoint, {}, { params: { dtype: 'U8', shape: [n], data: new Uint8Array(n) } }));
    expectRejected(resume(u8), [u8, '"params" is U8']);
    expect(existsSync(join(dir, 'resumed'))).toBe(false);
  });
});
