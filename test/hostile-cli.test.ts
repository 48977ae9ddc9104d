// Hostile and mistaken command lines: outputs that would overwrite an input
// (the same path, ./path, a symlink, a hard link), outputs into a missing or
// unwritable folder or onto a folder, options that do not apply to the model,
// and out-of-range numbers, each rejected at once in one line with every input
// unchanged. A representative set runs the real CLI in a child process (time,
// memory, files); the rest run in-process.
import { chmodSync, linkSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FLAG_LIMITS, runCli } from '../src/cli/program.ts';
import { sameFile } from '../src/cli/outputs.ts';
import { expectRejected, runCliChild } from './hostile/run.ts';

const dir = mkdtempSync(join(tmpdir(), 'latentgpu-'));
afterAll(() => {
  chmodSync(join(dir, 'locked'), 0o755);
  rmSync(dir, { recursive: true, force: true });
});

const data = join(dir, 'data.csv');
const ppcaModel = join(dir, 'ppca.safetensors');
const checkpoint = join(dir, 'run', 'checkpoint.safetensors');
const PPCA = ['train', '--model', 'ppca', '--latent', '2', '--backend', 'cpu'];
const SEM = [...PPCA, '--method', 'sem', '--batch', '20', '--data', data];

/** The CLI in this process: exit code and stderr lines. */
async function inProcess(args: string[]): Promise<{ code: number; out: string; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(args, { stdout: (s) => void out.push(s), stderr: (s) => void err.push(...s.split('\n').filter(Boolean)), env: {} });
  return { code, out: out.join(''), err };
}

async function expectRejectedInProcess(args: string[], ...fragments: Array<string | RegExp>): Promise<void> {
  const r = await inProcess(args);
  expect(r.code, r.err.join('\n')).toBe(1);
  expect(r.out).toBe('');
  expect(r.err, r.err.join('\n')).toHaveLength(1);
  for (const f of fragments) expect(r.err[0]).toMatch(typeof f === 'string' ? new RegExp(f.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')) : f);
}

beforeAll(async () => {
  const rows = Array.from({ length: 200 }, (_, i) => [Math.sin(i), Math.cos(i), Math.sin(2 * i), (i % 7) / 7, Math.cos(3 * i)].map((v) => v.toFixed(4)).join(','));
  writeFileSync(data, `${rows.join('\n')}\n`);
  symlinkSync(data, join(dir, 'link.csv'));
  linkSync(data, join(dir, 'hard.csv'));
  mkdirSync(join(dir, 'folder'));
  mkdirSync(join(dir, 'locked'));
  chmodSync(join(dir, 'locked'), 0o555);
  // a model file and a checkpoint to point outputs at
  expect((await inProcess([...PPCA, '--data', data, '--out', ppcaModel])).code).toBe(0);
  expect((await inProcess([...SEM, '--epochs', '1', '--checkpoint-every', '1', '--run-dir', join(dir, 'run')])).code).toBe(0);
});

describe('outputs that would overwrite an input (child CLI)', () => {
  it('--out equal to --data: the same path, ./path, a symlink, a hard link', () => {
    for (const [dataArg, out] of [
      [data, data],
      [data, join(dir, '.', 'data.csv')],
      [join(dir, 'link.csv'), data],
      [data, join(dir, 'hard.csv')],
    ] as const) {
      expectRejected(runCliChild([...PPCA, '--data', dataArg, '--out', out], { watch: [data] }), [`--out ${out}`, `--data ${dataArg}`, 'same file']);
    }
  });

  it('--out equal to --resume, and --out on eval (which writes nothing) leave the files as they were', () => {
    expectRejected(runCliChild([...SEM, '--epochs', '2', '--resume', checkpoint, '--out', checkpoint], { watch: [checkpoint, data] }), ['--out', '--resume', 'same file']);
    expectRejected(runCliChild(['eval', '--model', ppcaModel, '--out', ppcaModel, '--data', data, '--backend', 'cpu'], { watch: [ppcaModel] }), ["unknown option '--out'"]);
  });

  it('--out into a missing folder fails at once, before training', () => {
    const out = join(dir, 'missing', 'model.safetensors');
    expectRejected(runCliChild(['train', '--model', 'vae', '--epochs', '50', '--out', out, '--backend', 'cpu'], { watch: [out] }), [out, join(dir, 'missing'), 'does not exist', 'mkdir -p'], { ms: 5000 });
  });

  it('--out that is a folder, and --run-dir that cannot be written', () => {
    expectRejected(runCliChild([...PPCA, '--data', data, '--out', join(dir, 'folder')]), ['--out', 'is a folder']);
    // root writes through a chmod: a folder under /proc refuses even root
    const root = process.getuid?.() === 0;
    const runDir = root ? `/proc/latentgpu-test-${process.pid}` : join(dir, 'locked', 'run');
    expectRejected(runCliChild(['train', '--model', 'vae', '--run-dir', runDir, '--backend', 'cpu']), [`--run-dir ${runDir}`, 'give a folder you can write to']);
  });
});

describe('outputs (in-process)', () => {
  it('sameFile sees through ./, .., symlinks and hard links, and tells different files apart', () => {
    expect(sameFile(data, join(dir, 'folder', '..', 'data.csv'))).toBe(true);
    expect(sameFile(join(dir, 'link.csv'), data)).toBe(true);
    expect(sameFile(join(dir, 'hard.csv'), data)).toBe(true);
    expect(sameFile(join(dir, 'nope', '..', 'data.csv'), data)).toBe(true);
    expect(sameFile(ppcaModel, data)).toBe(false);
    expect(sameFile(join(dir, 'absent.csv'), data)).toBe(false);
  });

  it('the run folder: a file there, its checkpoint or model file on an input; resuming in place is allowed', async () => {
    await expectRejectedInProcess([...PPCA, '--data', data, '--run-dir', data], '--run-dir', 'is a file, not a folder');
    // without --out the run writes <run-dir>/model.safetensors: here that file is the --test input
    writeFileSync(join(dir, 'model.safetensors'), 'x');
    await expectRejectedInProcess([...SEM, '--epochs', '1', '--run-dir', dir, '--test', join(dir, 'model.safetensors')], "the run folder's model.safetensors", 'same file as --test');
    const r = await inProcess([...SEM, '--epochs', '2', '--checkpoint-every', '1', '--run-dir', join(dir, 'run'), '--resume', checkpoint]);
    expect(r.code, r.err.join('\n')).toBe(0);
    await expectRejectedInProcess([...SEM, '--epochs', '3', '--checkpoint-every', '1', '--run-dir', join(dir, 'run'), '--out', checkpoint], "--out", 'is also', 'checkpoint.safetensors');
  });
});

describe('options that do not apply, and numbers out of range', () => {
  it('an option another model reads is an error naming it, the model and what applies (child CLI, one case)', () => {
    expectRejected(runCliChild(['train', '--model', 'vae', '--tol', '1e-3', '--backend', 'cpu']), ['--tol does not apply to --model vae', 'ppca --method em', '--hidden']);
  });

  it('per model and method, in-process', async () => {
    await expectRejectedInProcess(['train', '--model', 'ppca', '--hidden', '400'], '--hidden does not apply to --model ppca --method em', 'it is for vae, lvm');
    await expectRejectedInProcess(['train', '--model', 'ppca', '--method', 'oem', '--lr', '0.1'], '--lr does not apply to --model ppca --method oem', '--kappa');
    await expectRejectedInProcess(['train', '--model', 'ppca', '--method', 'anderson', '--resume', checkpoint], '--resume does not apply to --model ppca --method anderson', 'ppca --method sem, oem');
    await expectRejectedInProcess(['train', '--model', 'vae', '--phi-steps', '3'], '--phi-steps does not apply to --model vae', 'it is for lvm');
    await expectRejectedInProcess(['train', '--model', 'lvm', '--method', 'sem'], '--method does not apply to --model lvm', 'it is for ppca');
    await expectRejectedInProcess(['train', '--model', 'vae', '--optimizer', 'adam'], '--optimizer does not apply to --model vae', 'ppca --method sem');
    await expectRejectedInProcess(['train', '--model', 'vae', '--dim', '30'], '--dim sets up --data synthetic', '--data mnist');
    await expectRejectedInProcess(['train', '--model', 'vae', '--header', 'yes'], '--header applies to a data file');
    await expectRejectedInProcess(['eval', '--model', ppcaModel, '--fit-steps', '10', '--data', data, '--backend', 'cpu'], '--fit-steps does not apply to eval of a ppca model', 'it is for lvm', '--q');
  });

  it('--seed 1e23 and huge sizes fail at the flag, with the range (child CLI, one case)', () => {
    expectRejected(runCliChild(['train', '--model', 'vae', '--seed', '1e23', '--backend', 'cpu']), ["'--seed <s>'", "'1e23'", 'from 0 to 4,294,967,295']);
  });

  it('every capped flag, in-process', async () => {
    const over = (n: number): string => String(n + 1);
    for (const [flag, value, fragment] of [
      ['--seed', '100000000000000000000000', 'from 0 to 4,294,967,295'],
      ['--seed', over(FLAG_LIMITS.seed), 'from 0 to 4,294,967,295'],
      ['--seed', '-1', 'from 0 to'],
      ['--hidden', '100000000', 'each from 1 to 65,536'],
      ['--hidden', Array(40).fill('8').join(','), 'at most 32 widths'],
      ['--latent', '1000000', 'from 1 to 4,096'],
      ['--batch', '1000000000000', 'from 1 to 16,777,216'],
      ['--samples', '1e9', 'from 1 to 100,000'],
      ['--epochs', '1000000000000', 'from 1 to 1,000,000'],
      ['--var-floor', '10', 'below the variance ceiling 4'],
      ['--var-floor', '0', 'above 0'],
    ] as const) {
      await expectRejectedInProcess(['train', '--model', 'vae', flag, value], `'${flag} `, `'${value}'`, fragment);
    }
    // steps × epochs past the 32-bit random-number counter: after the data are loaded, before training
    await expectRejectedInProcess(['train', '--model', 'vae', '--subset', '8000', '--batch', '1', '--epochs', '1000000', '--backend', 'cpu'], '--epochs 1,000,000 × 8,000 steps per epoch', '32-bit');
    await expectRejectedInProcess(['train', '--model', 'lvm', '--subset', '1000', '--batch', '1', '--epochs', '1000000', '--phi-steps', '10', '--backend', 'cpu'], '× 10 φ steps', 'over the 4,294,967,295');
  });
});

describe('a VAE that diverges on unscaled data', () => {
  it('says which column is large and to standardise (child CLI), exit 1, data unchanged', () => {
    // 400 rows × 6 columns around 1000 ± 400: the encoder overflows within a few steps
    const rows: string[] = [];
    let s = 7;
    const next = (): number => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648);
    for (let i = 0; i < 400; i++) rows.push(Array.from({ length: 6 }, () => (1000 + 400 * (next() + next() + next() - 1.5) * 2).toFixed(2)).join(','));
    const csv = join(dir, 'unscaled.csv');
    writeFileSync(csv, `${rows.join('\n')}\n`);
    const r = runCliChild(['train', '--model', 'vae', '--data', csv, '--latent', '2', '--hidden', '16', '--epochs', '3', '--batch', '32',
      '--backend', 'cpu', '--run-dir', join(dir, 'unscaled-run')], { watch: [csv] });
    // the Gaussian-decoder notice comes first; the error is the last line
    const lines = r.stderr.trim().split('\n');
    expect(r.code, r.stderr).toBe(1);
    expect(lines.at(-1)).toMatch(/^latentgpu: training diverged: .* the data reach [\d.e+]+ in column \d: standardise the columns \(zero mean, unit variance\) first, or lower the learning rate$/);
    expect(r.changed).toEqual([]);
  });
});
