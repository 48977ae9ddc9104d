// Hostile and mistaken input to PPCA training through the real command line
// (a child process with time and memory bounds): resume of a missing or
// corrupted checkpoint, checkpoint options on exact EM, data whose scale
// float32 cannot fit, a run folder that is a file, and data with a constant
// 1e30 column, which must train and match the closed form.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../src/cli/program.ts';
import { loadSafetensors, saveSafetensors } from '../src/io/atomic.node.ts';
import { errorLines, expectRejected, runCliChild } from './hostile/run.ts';

const dir = mkdtempSync(join(tmpdir(), 'latentgpu-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** 300 rows of 8 columns: two latent factors plus noise, column `col` replaced by f(value). */
function csv(name: string, f: (v: number, i: number) => number, col = 3): string {
  let s = 1;
  const u = (): number => ((s = (s * 16807) % 2147483647) / 2147483647);
  const g = (): number => Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u());
  const rows: string[] = [];
  for (let i = 0; i < 300; i++) {
    const z = [g(), g()];
    const r = Array.from({ length: 8 }, (_, j) => z[0]! * (j % 3) + z[1]! * (j % 2) + 0.3 * g());
    r[col] = f(r[col]!, i);
    rows.push(r.join(','));
  }
  const path = join(dir, name);
  writeFileSync(path, `${rows.join('\n')}\n`);
  return path;
}

const SEM = ['train', '--model', 'ppca', '--method', 'sem', '--latent', '2', '--data', 'synthetic', '--n', '300', '--dim', '9', '--batch', '30', '--backend', 'cpu'];

describe('ppca: hostile checkpoints, options and data (child CLI)', () => {
  let checkpoint = '';
  beforeAll(async () => {
    // a real checkpoint, written in-process (fast)
    const code = await runCli([...SEM, '--epochs', '1', '--checkpoint-every', '1', '--run-dir', join(dir, 'run'), '--json'], { stdout: () => {}, stderr: () => {}, env: {} });
    expect(code).toBe(0);
    checkpoint = join(dir, 'run', 'checkpoint.safetensors');
  });

  it('--resume of a missing file is one line naming it, before any work', () => {
    const missing = join(dir, 'nope.safetensors');
    expectRejected(runCliChild([...SEM, '--epochs', '2', '--resume', missing]), [missing, 'not found']);
  });

  it('a checkpoint whose epoch is "abc", or whose state is stored as F64, is rejected naming the file and key', async () => {
    const ck = await loadSafetensors(checkpoint);
    const bad = join(dir, 'epoch.safetensors');
    await saveSafetensors(bad, ck.tensors, { ...ck.metadata, epoch: 'abc' });
    expectRejected(runCliChild([...SEM, '--epochs', '2', '--resume', bad], { watch: [bad] }), [bad, 'metadata "epoch" is "abc"', 'integer']);
    const p = ck.tensors['state.params']!;
    const f64 = join(dir, 'f64.safetensors');
    await saveSafetensors(f64, { ...ck.tensors, 'state.params': { dtype: 'F64', shape: p.shape, data: Float64Array.from(p.data as Float32Array) } }, ck.metadata);
    expectRejected(runCliChild([...SEM, '--epochs', '2', '--resume', f64]), [f64, 'tensor "state.params" is F64']);
  });

  it('--resume and --checkpoint-every on exact EM are errors, not ignored', () => {
    const r = runCliChild(['train', '--model', 'ppca', '--method', 'squarem', '--data', 'synthetic', '--latent', '2', '--backend', 'cpu', '--resume', checkpoint]);
    expectRejected(r, ['--resume', /sem.*oem/]);
  });

  it('a column with values of 1e20 is named with what to do, for exact and stochastic EM (was "pivot 0 is NaN" / "lower the learning rate")', () => {
    const data = csv('huge.csv', (v) => v * 1e20);
    for (const method of ['em', 'sem']) {
      const r = runCliChild(['train', '--model', 'ppca', '--method', method, '--data', data, '--latent', '2', '--backend', 'cpu'], { watch: [data] });
      expectRejected(r, ['huge.csv', 'column 4', 'standardise the data']);
    }
  });

  it('--run-dir naming an existing file is rejected before training, the file unchanged', () => {
    const file = join(dir, 'taken.txt');
    writeFileSync(file, 'keep me\n');
    expectRejected(runCliChild([...SEM, '--epochs', '1', '--run-dir', file], { watch: [file] }), [file, 'is a file']);
  });

  it('a constant 1e30 column trains to the closed form (was −17.8 nats off), with a notice naming the column', () => {
    const data = csv('const30.csv', () => 1e30);
    const r = runCliChild(['train', '--model', 'ppca', '--method', 'anderson', '--tol', '1e-9', '--data', data, '--latent', '2', '--backend', 'cpu', '--json'], { watch: [data] });
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout) as Record<string, number>;
    expect(Math.abs(j.gap_to_closed_form!)).toBeLessThan(1e-3);
    expect(errorLines(r).some((l) => /const30\.csv.*column 4 is constant/.test(l))).toBe(true);
  });
});
