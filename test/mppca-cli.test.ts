// Mixtures of PPCA from the CLI (train, eval, --points) and the model file's checks.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../src/cli/program.ts';
import { loadSafetensors, saveSafetensors } from '../src/io/atomic.node.ts';
import { mppcaFromTensors, mppcaToTensors } from '../src/models/mppca/file.ts';
import type { MppcaHost } from '../src/models/mppca/mppca.ts';

describe('mppca from the CLI', () => {
  const dir = mkdtempSync(join(tmpdir(), 'latentgpu-mppca-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  /** The CLI in-process on the CPU backend with --json: exit code, stdout, stderr. */
  const cli = async (args: string[]): Promise<{ code: number; out: string; err: string }> => {
    const io = { out: '', err: '' };
    const code = await runCli([...args, '--backend', 'cpu', '--json'], { stdout: (t) => { io.out += t; }, stderr: (t) => { io.err += t; }, env: {} });
    return { code, ...io };
  };
  const ok = async (args: string[]): Promise<Record<string, unknown>> => {
    const r = await cli(args);
    expect(r.code, r.err).toBe(0);
    return JSON.parse(r.out) as Record<string, unknown>;
  };
  /** stderr of a run that fails with exit 1 and an empty stdout */
  const refused = async (args: string[]): Promise<string> => {
    const r = await cli(args);
    expect({ code: r.code, out: r.out }).toEqual({ code: 1, out: '' });
    return r.err;
  };
  const synthetic = ['--data', 'synthetic', '--n', '600', '--dim', '12', '--true-latent', '3', '--sigma', '0.3', '--data-seed', '1'];

  it('train writes metrics, curve and model; eval of the file reproduces the figures and writes --points', async () => {
    const runDir = join(dir, 'run');
    const tr = await ok(['train', '--model', 'mppca', '--components', '3', '--latent', '2', ...synthetic, '--iters', '40', '--run-dir', runDir]);
    expect(tr).toMatchObject({ model: 'mppca', latent: 2, components: 3, parameters: 3 * (12 * 2 - 1 + 12 + 1) + 2 });
    const metrics = JSON.parse(readFileSync(join(runDir, 'metrics.json'), 'utf8'));
    expect(metrics.train_loglik).toBe(tr.train_loglik);
    expect(readFileSync(join(runDir, 'objective.svg'), 'utf8')).toContain('<svg');
    const curve = tr.curve as [number, number][];
    for (let t = 1; t < curve.length; t++) expect(curve[t]![1]).toBeGreaterThanOrEqual(curve[t - 1]![1] - 1e-6);
    const file = join(runDir, 'model.safetensors');
    for (const split of ['train', 'test']) {
      const ev = await ok(['eval', '--model', file, '--data', 'synthetic', '--split', split]);
      expect(ev.loglik).toBe(tr[`${split}_loglik`]);
      expect(ev.cluster_sizes).toEqual(tr[`${split}_cluster_sizes`]);
    }
    const points = join(dir, 'points.csv');
    const ev = await ok(['eval', '--model', file, '--data', 'synthetic', '--points', points]);
    const lines = readFileSync(points, 'utf8').trim().split('\n');
    expect(lines[0]).toBe('row,loglik,component,responsibility');
    expect(lines).toHaveLength(121);
    const mean = lines.slice(1).reduce((s, l) => s + Number(l.split(',')[1]), 0) / 120;
    expect(mean).toBeCloseTo(ev.loglik as number, 9);
    expect(await refused(['eval', '--model', file, '--data', 'synthetic', '--estimator', 'iwae'])).toMatch(/^latentgpu: --estimator iwae: an mppca model/);
    expect(await refused(['eval', '--model', file, '--data', 'synthetic', '--points', file])).toContain('is the --model file');
    expect(await refused(['train', '--model', 'fa', ...synthetic, '--components', '2'])).toContain('--components does not apply to --model fa');
  }, 60_000);

  it('eval rejects a file whose weights leave the simplex, a bad σ² or a wrong shape, naming the file', async () => {
    const K = 2;
    const D = 12;
    const d = 2;
    const h: MppcaHost = { K, D, d, pi: Float64Array.of(0.5, 0.5), mu: new Float64Array(K * D), W: new Float64Array(K * D * d), sigma2: Float64Array.of(1, 1) };
    const write = async (name: string, m: MppcaHost, meta: Record<string, string> = {}): Promise<string> => {
      const path = join(dir, name);
      const { tensors, metadata } = mppcaToTensors(m);
      await saveSafetensors(path, tensors, { ...metadata, ...meta });
      return path;
    };
    const good = await write('good.safetensors', h);
    expect(mppcaFromTensors(await loadSafetensors(good), good).K).toBe(2);
    const pi = await write('pi.safetensors', { ...h, pi: Float64Array.of(0.5, 0.6) });
    expect(await refused(['eval', '--model', pi, ...synthetic])).toContain('sum to 1.1');
    const neg = await write('neg.safetensors', { ...h, pi: Float64Array.of(1.5, -0.5) });
    expect(await refused(['eval', '--model', neg, ...synthetic])).toContain('pi[0] is 1.5');
    const s2 = await write('s2.safetensors', { ...h, sigma2: Float64Array.of(1, 0) });
    const err = await refused(['eval', '--model', s2, ...synthetic]);
    expect(err).toContain(s2);
    expect(err).toContain('sigma2[1] is 0');
    const shape = await write('shape.safetensors', h, { components: '3' });
    expect(await refused(['eval', '--model', shape, ...synthetic])).toContain('"W"');
    const nan = await write('nan.safetensors', { ...h, mu: Float64Array.from({ length: K * D }, (_, i) => (i === 5 ? NaN : 0)) });
    expect(await refused(['eval', '--model', nan, ...synthetic])).toContain('mu');
  });
});
