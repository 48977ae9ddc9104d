// The decoder likelihood chosen from the data (src/models/likelihood.ts): the
// pure rule on edge values, then the command line: a real-valued CSV gets the
// Gaussian decoder with a notice, an explicit Bernoulli on it is a one-line error
// naming the value, and a Bernoulli model is not scored on such rows.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  checkLikelihoodFits, chooseLikelihood, firstOutsideUnit, LikelihoodError, varianceCeiling, type LikelihoodData,
} from '../src/models/likelihood.ts';
import { errorLines, expectRejected, runCliChild } from './hostile/run.ts';

function data(name: string, rows: number[][]): LikelihoodData {
  return { name, x: Float32Array.from(rows.flat()), D: rows[0]!.length };
}

describe('chooseLikelihood (no request): Bernoulli exactly when every value lies in [0, 1]', () => {
  it('keeps Bernoulli for values exactly 0 and 1, and for −0', () => {
    const c = chooseLikelihood(undefined, [data('t', [[0, 1, 0.5], [1, 0, -0]])]);
    expect(c).toMatchObject({ likelihood: 'bernoulli', variance: 'vector', name: 'bernoulli', auto: true, outside: null });
    expect(c.reason).toContain('[0, 1]');
    expect(chooseLikelihood('auto', [data('t', [[-0]])]).likelihood).toBe('bernoulli');
  });

  it('takes the Gaussian for a tiny negative and for the float32 just above 1, naming the row, column and value', () => {
    const tiny = Math.fround(-1e-30);
    const c = chooseLikelihood(undefined, [data('a.csv:train', [[0, 0.5], [1, tiny]])]);
    expect(c).toMatchObject({ likelihood: 'gaussian', variance: 'vector', name: 'gaussian', auto: true });
    expect(c.outside).toEqual({ name: 'a.csv:train', row: 2, column: 2, value: tiny });
    expect(c.reason).toBe('data values lie outside [0, 1] (a.csv:train row 2, column 2 has -1e-30); using the Gaussian decoder (--likelihood gaussian)');
    const above = Math.fround(1 + 2 ** -23);
    expect(chooseLikelihood(undefined, [data('b', [[above]])]).reason).toContain('has 1.0000001');
    // the smallest subnormal float32 below zero is outside too
    expect(chooseLikelihood(undefined, [data('c', [[0, -(2 ** -149)]])]).likelihood).toBe('gaussian');
  });

  it('names a column of 2s, and prints float32 values shortest (-2.4, not -2.4000000953674316)', () => {
    const c = chooseLikelihood(undefined, [data('twos', [[0.1, 0.2, 2], [0.3, 0.4, 2]])]);
    expect(c.outside).toMatchObject({ row: 1, column: 3, value: 2 });
    expect(c.reason).toContain('twos row 1, column 3 has 2');
    expect(chooseLikelihood(undefined, [data('m', [[0, -2.4]])]).reason).toContain('has -2.4)');
  });

  it('looks at the test rows too, after the train rows', () => {
    const train = data('f.csv:train', [[0, 1], [0.5, 0.5]]);
    const test = data('f.csv:test', [[0.5, 3]]);
    const c = chooseLikelihood(undefined, [train, test]);
    expect(c.likelihood).toBe('gaussian');
    expect(c.reason).toContain('f.csv:test row 1, column 2 has 3');
    expect(firstOutsideUnit([train])).toBeNull();
  });

  it('returns an explicit Gaussian request as asked, on any data', () => {
    const unit = [data('u', [[0, 1]])];
    expect(chooseLikelihood('gaussian', unit)).toMatchObject({ likelihood: 'gaussian', variance: 'vector', auto: false });
    expect(chooseLikelihood('gaussian-output', unit)).toMatchObject({ likelihood: 'gaussian', variance: 'output', name: 'gaussian-output', auto: false });
    expect(chooseLikelihood('bernoulli', unit)).toMatchObject({ likelihood: 'bernoulli', auto: false });
  });

  it('refuses an explicit Bernoulli on data outside [0, 1], naming the row, column and value and suggesting the Gaussian', () => {
    const sets = [data('r.csv:train', [[0.5, 0.5, 0.5], [0.5, 0.5, -2.4]])];
    expect(() => chooseLikelihood('bernoulli', sets)).toThrow(LikelihoodError);
    expect(() => chooseLikelihood('bernoulli', sets)).toThrow(
      'the Bernoulli decoder describes values in [0, 1], but r.csv:train row 2, column 3 has -2.4; use the Gaussian decoder (--likelihood gaussian)');
    // the app names its own control
    expect(() => chooseLikelihood('bernoulli', sets, { gaussian: 'likelihood: Gaussian' })).toThrow('(likelihood: Gaussian)');
  });

  it('rejects an unknown request', () => {
    expect(() => chooseLikelihood('poisson', [data('u', [[0]])])).toThrow("--likelihood must be one of auto, bernoulli, gaussian, gaussian-output, got 'poisson'");
  });
});

describe('checkLikelihoodFits: a Bernoulli model is not scored on values outside [0, 1]', () => {
  it('passes a Gaussian model on any data and a Bernoulli one on [0, 1], refuses a Bernoulli one elsewhere', () => {
    const real = [data('x.csv:test', [[0.5, 7]])];
    expect(() => checkLikelihoodFits('gaussian', real, 'm.safetensors')).not.toThrow();
    expect(() => checkLikelihoodFits('bernoulli', [data('u', [[0, 1]])], 'm.safetensors')).not.toThrow();
    expect(() => checkLikelihoodFits('bernoulli', real, 'm.safetensors')).toThrow(/^m\.safetensors has a Bernoulli decoder.*x\.csv:test row 1, column 2 has 7.*--likelihood gaussian/);
  });
});

describe('varianceCeiling: the Gaussian decoder can reach the data\'s own spread', () => {
  it('is the default 4 for data in [0, 1] and for a Bernoulli decoder, twice the widest column variance above that', () => {
    const unit = { x: Float32Array.from([0, 1, 1, 0]), n: 2, D: 2 };
    expect(varianceCeiling('gaussian', unit)).toBe(4);
    // columns of variance 100 and 1: 2 × 100
    const wide = { x: Float32Array.from([-10, 1, 10, -1]), n: 2, D: 2 };
    expect(varianceCeiling('gaussian', wide)).toBe(200);
    expect(varianceCeiling('bernoulli', wide)).toBe(4);
  });
});

describe('the command line chooses the likelihood from the data', () => {
  let dir: string;
  let realCsv: string;
  let wideReal: string;
  let mnistModel: string;
  const TINY = ['--epochs', '1', '--hidden', '16', '--latent', '2', '--samples', '2', '--backend', 'cpu'];

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'latentgpu-'));
    // 6 columns; column 3 is 2.4·sin, so it leaves [0, 1] on the first row
    realCsv = join(dir, 'real.csv');
    writeFileSync(realCsv, Array.from({ length: 200 }, (_, i) =>
      [0.5, (i % 10) / 10, 2.4 * Math.sin(i + 1), 1, 0, (i % 3) / 3].map((v) => v.toFixed(4)).join(',')).join('\n'));
    // MNIST-wide rows in [0, 1] except one value, for eval of a model trained on MNIST
    wideReal = join(dir, 'wide.csv');
    writeFileSync(wideReal, Array.from({ length: 20 }, (_, i) =>
      Array.from({ length: 784 }, (_, j) => (i === 9 && j === 99 ? -0.5 : ((i + j) % 5) / 5)).join(',')).join('\n'));
    mnistModel = join(dir, 'mnist.safetensors');
  });

  it('a real-valued CSV trains with the Gaussian decoder after a one-line notice, and says so in the JSON', () => {
    const r = runCliChild(['train', '--model', 'vae', '--data', realCsv, '--batch', '32', ...TINY, '--run-dir', join(dir, 'run-real'), '--json'], { watch: [realCsv] });
    expect(r.code, r.stderr).toBe(0);
    const notices = errorLines(r).filter((l) => l.includes('outside [0, 1]'));
    expect(notices).toEqual(['latentgpu: data values lie outside [0, 1] (real.csv:train row 1, column 3 has 2.0195); using the Gaussian decoder (--likelihood gaussian)']);
    const out = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(out).toMatchObject({ likelihood: 'gaussian', likelihood_choice: 'auto', variance: 'vector' });
    // column 3 (2.4 sin) has variance ~2.9: the ceiling is twice that, not the default 4
    expect(out.var_ceiling as number).toBeGreaterThan(5);
    expect(out.likelihood_reason).toBe(notices[0]!.replace('latentgpu: ', ''));
    for (const k of ['test_elbo', 'test_iwae', 'train_elbo']) expect(Number.isFinite(out[k]), `${k} = ${String(out[k])}`).toBe(true);
    expect(r.changed).toEqual([]);
  });

  it('an explicit --likelihood bernoulli on it is one line naming the column, exit 1, nothing written', () => {
    const runDir = join(dir, 'run-refused');
    const r = runCliChild(['train', '--model', 'lvm', '--data', realCsv, '--likelihood', 'bernoulli', ...TINY, '--run-dir', runDir], { watch: [realCsv, runDir] });
    expectRejected(r, ['the Bernoulli decoder describes values in [0, 1]', 'real.csv:train row 1, column 3 has 2.0195', '--likelihood gaussian']);
  });

  it('MNIST keeps the Bernoulli decoder without a notice; its model is not evaluated on rows outside [0, 1]', () => {
    const r = runCliChild(['train', '--model', 'vae', '--subset', '200', '--test-subset', '50', ...TINY, '--run-dir', join(dir, 'run-mnist'), '--out', mnistModel, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toContain('outside [0, 1]');
    expect(JSON.parse(r.stdout)).toMatchObject({ likelihood: 'bernoulli', likelihood_choice: 'auto' });
    const e = runCliChild(['eval', '--model', mnistModel, '--data', wideReal, '--backend', 'cpu', '--json'], { watch: [mnistModel, wideReal] });
    // row 10 of the file is the second test row (every 5th row is held out)
    expectRejected(e, [`${mnistModel} has a Bernoulli decoder`, 'wide.csv:test row 2, column 100 has -0.5', '--likelihood gaussian']);
  });
});
