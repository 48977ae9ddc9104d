import { spawnSync } from 'node:child_process';
import { PassThrough } from 'node:stream';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import type { Backend } from '../src/backend.ts';
import type { CliContext } from '../src/cli/context.ts';
import { defaultDeps, runCli, type CliDeps, type ModelKind } from '../src/cli/program.ts';
import { saveSafetensors } from '../src/io/atomic.node.ts';
import { formatInfo, terminalProgress } from '../src/cli/progress.ts';
import { REGISTRY } from '../src/cli/registry.ts';
import { CpuBackend } from '../src/cpu/backend.ts';
import { LVM_DEFAULTS, PPCA_DEFAULTS, VAE_DEFAULTS } from '../src/models/config.ts';
import { defaultLvmConfig } from '../src/models/lvm.ts';
import { classicVaeConfig } from '../src/models/vae.ts';
import type { AutoProbe } from '../src/gpu/node.ts';
import { createBackend } from '../src/node/backend.ts';
import { TEST_ADAPTERS } from './gpu.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const TSX = join(ROOT, 'node_modules', '.bin', 'tsx');

/** What Dawn and the Vulkan loader print from native code; the CLI keeps it off stderr. */
const DRIVER_CHATTER = /Warning:|vkCreateInstance|artificially reduced|VK_ERROR/;

/**
 * Runs the real command line in a subprocess. `viaPipe`: its stderr is a pipe
 * made by the shell, as from a terminal's `| tee`; Node's own child pipes are
 * sockets, which the driver-warning filter cannot reopen (src/gpu/node.ts).
 */
function cli(args: string[], env: Record<string, string> = {}, viaPipe = false) {
  const r = viaPipe
    ? spawnSync('bash', ['-c', '"$@" 2> >(cat >&2)', 'bash', TSX, 'src/cli/main.ts', ...args], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, ...env }, timeout: 60_000 })
    : spawnSync(TSX, ['src/cli/main.ts', ...args], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, ...env }, timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function expectOneLineError(r: { code: number | null; stdout: string; stderr: string }, ...fragments: string[]): void {
  expect(r.code).toBe(1);
  expect(r.stdout).toBe('');
  const lines = r.stderr.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('npm warn'));
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^latentgpu: /);
  for (const f of fragments) expect(lines[0]).toContain(f);
}

describe('latentgpu command line (subprocess)', () => {
  it('info --json prints one JSON object and nothing else on stdout', () => {
    const r = cli(['info', '--json', '--backend', 'cpu']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ backend: 'cpu', summary: expect.stringContaining('cpu') });
  });

  for (const adapter of TEST_ADAPTERS) {
    it(`info --json on ${adapter} names the adapter, and the driver's warnings stay hidden`, () => {
      const r = cli(['info', '--json', '--backend', 'webgpu', '--adapter', adapter], {}, true);
      expect(r.code, r.stderr).toBe(0);
      const info = JSON.parse(r.stdout) as { backend: string; adapter: { choice: string; limits: Record<string, number> } };
      expect([info.backend, info.adapter.choice]).toEqual(['webgpu', adapter]);
      // the granted limits (test/runtime.test.ts: the adapter's maxima)
      expect(info.adapter.limits.maxStorageBufferBindingSize).toBeGreaterThanOrEqual(2 ** 27);
      expect(r.stderr).not.toMatch(DRIVER_CHATTER);
    });
  }

  it('info with the default auto backend prints no driver warnings and at most its one-line notice', () => {
    const r = cli(['info'], { LATENTGPU_ADAPTER: '' });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(DRIVER_CHATTER);
    expect(r.stderr.split('\n').filter(Boolean).length, r.stderr).toBeLessThanOrEqual(1);
  });

  it('a bad argument is one clear line and exit code 1, no stack trace', () => {
    expectOneLineError(cli(['train', '--model', 'ppca', '--latent', 'abc']), "'--latent <d>'", "'abc'", 'an integer from 1 to 4,096');
    expectOneLineError(cli(['train', '--model', 'vae', '--lattent', '3']), "unknown option '--lattent'", 'Did you mean --latent?');
  });

  it('train with an unknown model names the choices', () => {
    expectOneLineError(cli(['train', '--model', 'gmm']), "'gmm'", 'Allowed choices are ppca, lvm, vae');
  });

  it('data errors are one line; LATENTGPU_DEBUG=1 adds the stack', () => {
    expectOneLineError(cli(['train', '--model', 'ppca', '--data', 'no/such.csv']), 'cannot read data file no/such.csv: no such file');
    const debug = cli(['train', '--model', 'ppca', '--data', 'no/such.csv'], { LATENTGPU_DEBUG: '1' });
    expect(debug.code).toBe(1);
    expect(debug.stderr).toMatch(/^latentgpu: cannot read data file/m);
    expect(debug.stderr).toMatch(/\n\s+at /);
  });
});

/** In-process runs with a recording model module and a CPU backend. */
function harness(result: Record<string, unknown> = { train_loglik: -1.5, curve: Float64Array.from([1, 2]) }, modelType = 'vae') {
  const out: string[] = [];
  const err: string[] = [];
  const calls: Array<{ kind: ModelKind; entry: 'train' | 'evaluate'; ctx: CliContext<Record<string, unknown>> }> = [];
  const backends: Array<{ destroyed: boolean }> = [];
  const deps: CliDeps = {
    async createBackend() {
      const b = new CpuBackend();
      const rec = { destroyed: false };
      backends.push(rec);
      b.destroy = () => {
        rec.destroyed = true;
      };
      return b as Backend;
    },
    async loadModelModule(kind) {
      // records the typed config the registry made (every config is an object of named fields)
      const entry = (name: 'train' | 'evaluate') => async (ctx: CliContext<object>) => {
        const c = ctx as CliContext<Record<string, unknown>>;
        calls.push({ kind, entry: name, ctx: c });
        ctx.log(`${name} running`);
        if (c.config.lr === 13) throw new Error('diverged at step 3');
        return result;
      };
      return { train: entry('train'), evaluate: entry('evaluate') } as never;
    },
    async readModelType() {
      return modelType;
    },
  };
  const io = { stdout: (s: string) => void out.push(s), stderr: (s: string) => void err.push(s), env: {} };
  return { run: (args: string[]) => runCli(args, io, deps), out, err, calls, backends };
}

describe('latentgpu command line (in-process)', () => {
  it('train builds the context, calls the model, prints one merged JSON object', async () => {
    const h = harness();
    const code = await h.run(['train', '--model', 'vae', '--subset', '500', '--test-subset', '100', '--batch', '100', '--var-floor', '0.01', '--hidden', '512, 256', '--json', '--backend', 'cpu']);
    expect(code, h.err.join('')).toBe(0);
    expect(h.calls).toHaveLength(1);
    const { kind, entry, ctx } = h.calls[0]!;
    expect([kind, entry, ctx.train.n, ctx.test.n, ctx.train.D]).toEqual(['vae', 'train', 500, 100, 784]);
    // the typed config: defaults filled in from src/models/config.ts
    expect(ctx.config).toEqual({
      kind: 'vae', latent: 20, seed: 0, epochs: 20, batch: 100, checkpointEvery: 0, hidden: [512, 256], objective: 'elbo',
      varFloor: 0.01, lr: 1e-3, schedule: { kind: 'constant' }, samples: 100,
    });
    expect(ctx.truth).toBeUndefined();
    expect(h.out).toHaveLength(1);
    const json = JSON.parse(h.out[0]!) as Record<string, unknown>;
    expect(json).toMatchObject({ command: 'train', model: 'vae', backend: 'cpu', latent: 20, n_train: 500, n_test: 100, D: 784, train_loglik: -1.5, curve: [1, 2] });
    expect(json.seconds).toBeGreaterThan(0);
    expect(h.err.join('')).toBe('train running\n');
    expect(h.backends).toEqual([{ destroyed: true }]);
  });

  it('synthetic data carries the generating parameters; without --json a readable summary', async () => {
    const h = harness({ sigma2: 0.01, angles_deg: Float64Array.from([1.5, 2]), curve: Array.from({ length: 20 }, (_, i) => i) });
    const code = await h.run(['train', '--model', 'ppca', '--data', 'synthetic', '--n', '200', '--dim', '8', '--latent', '3', '--sigma', '0.1']);
    expect(code, h.err.join('')).toBe(0);
    const { ctx } = h.calls[0]!;
    expect([ctx.train.n, ctx.test.n, ctx.train.D, ctx.truth?.W.length]).toEqual([160, 40, 8, 24]);
    expect(ctx.truth?.sigma2).toBeCloseTo(0.01, 12);
    const text = h.out.join('');
    expect(text).toMatch(/^command\s+train$/m);
    expect(text).toMatch(/^sigma2\s+0\.0100$/m);
    expect(text).toMatch(/^angles_deg\s+\[1\.5000, 2\]$/m);
    expect(text).toMatch(/^curve\s+\[20 values, last 19\]$/m);
    expect(text).toMatch(/^adapter\s+cpu \(TypeScript reference kernels\)$/m);
  });

  it('a NaN or infinite figure from a model is an error (exit 1), never printed as a result', async () => {
    for (const [field, value] of [['test_loglik', Number.NaN], ['train_elbo', -Infinity]] as const) {
      const h = harness({ [field]: value, sigma2: 0.1 });
      expect(await h.run(['train', '--model', 'ppca', '--data', 'synthetic', '--n', '100', '--dim', '6', '--latent', '2', '--json'])).toBe(1);
      expect(h.out).toEqual([]);
      expect(h.err.join('')).toMatch(new RegExp(`^train running\nlatentgpu: the trained model gave ${field} = ${value}: the parameters overflow float32`));
      expect(h.backends).toEqual([{ destroyed: true }]);
    }
  });

  it('rejects unusable data before starting a backend', async () => {
    const h = harness();
    expect(await h.run(['train', '--model', 'ppca', '--data', 'synthetic', '--dim', '5', '--latent', '5'])).toBe(1);
    expect(h.err.join('')).toMatch(/^latentgpu: .*latent dimension d=5 must be smaller than the data dimension D=5\n$/);
    const b = harness();
    expect(await b.run(['train', '--model', 'vae', '--subset', '50', '--batch', '64'])).toBe(1);
    expect(b.err.join('')).toContain('mnist:train[50 of 8000]: 50 rows, fewer than the batch size 64');
    expect([...h.backends, ...b.backends]).toEqual([]);
  });

  it('each model gets its typed config from the registry, defaults from src/models/config.ts', async () => {
    const configOf = async (args: string[]): Promise<Record<string, unknown>> => {
      const h = harness();
      expect(await h.run([...args, '--json']), h.err.join('')).toBe(0);
      return h.calls[0]!.ctx.config;
    };
    expect(await configOf(['train', '--model', 'ppca', '--subset', '500'])).toEqual({
      latent: PPCA_DEFAULTS.latent, seed: 0, method: 'em', iters: PPCA_DEFAULTS.iters, tol: PPCA_DEFAULTS.tol,
    });
    expect(await configOf(['train', '--model', 'ppca', '--method', 'sem', '--subset', '500', '--tau', '50', '--out', 'm.safetensors'])).toEqual({
      latent: 10, seed: 0, out: 'm.safetensors', method: 'sem', epochs: PPCA_DEFAULTS.epochs, batch: PPCA_DEFAULTS.batch, checkpointEvery: 0,
      lr: PPCA_DEFAULTS.sem.lr, tau: 50, kappa: PPCA_DEFAULTS.sem.kappa, optimizer: 'sgd',
    });
    // the default batch is capped at the training rows (for every model); a given one larger than the rows is an error
    expect(await configOf(['train', '--model', 'ppca', '--method', 'oem', '--subset', '40', '--latent', '3'])).toMatchObject({ method: 'oem', batch: 40, kappa: PPCA_DEFAULTS.oem.kappa });
    expect(await configOf(['train', '--model', 'vae', '--subset', '40'])).toMatchObject({ kind: 'vae', batch: 40 });
    const lvm = await configOf(['train', '--model', 'lvm', '--subset', '300', '--kappa', '0.9', '--fit-steps', '7']);
    expect(lvm).toMatchObject({
      kind: 'lvm', latent: LVM_DEFAULTS.latent, batch: LVM_DEFAULTS.batch, epochs: LVM_DEFAULTS.epochs, hidden: [...LVM_DEFAULTS.hidden],
      phiLr: LVM_DEFAULTS.phiLr, phiSteps: LVM_DEFAULTS.phiSteps, fitSteps: 7, schedule: { kind: 'robbins-monro', tau: LVM_DEFAULTS.schedule.tau, kappa: 0.9 },
    });
    // the library's builders use the same defaults
    expect([defaultLvmConfig().phiLr, defaultLvmConfig().phiSteps, classicVaeConfig().latent]).toEqual([LVM_DEFAULTS.phiLr, LVM_DEFAULTS.phiSteps, VAE_DEFAULTS.latent]);
  });

  it('train and eval --help list every option the registry declares, once', async () => {
    for (const command of ['train', 'eval'] as const) {
      const out: string[] = [];
      expect(await runCli([command, '--help'], { stdout: (s) => void out.push(s), stderr: () => {}, env: {} })).toBe(0);
      const help = out.join('');
      for (const entry of Object.values(REGISTRY)) {
        for (const { spec } of entry[command]) expect(help.split(`  ${spec.flags.split(' ')[0]} `).length - 1, spec.flags).toBe(1);
      }
    }
  });

  it('a failing model is one line, and the backend is still destroyed', async () => {
    const h = harness();
    expect(await h.run(['train', '--model', 'lvm', '--subset', '100', '--lr', '13', '--json'])).toBe(1);
    expect(h.out).toEqual([]);
    expect(h.err.join('')).toBe('train running\nlatentgpu: diverged at step 3\n');
    expect(h.backends).toEqual([{ destroyed: true }]);
  });

  const dir = mkdtempSync(join(tmpdir(), 'latentgpu-cli-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('eval dispatches on the model file type and passes the file path', async () => {
    const file = join(dir, 'm.safetensors');
    writeFileSync(file, 'x');
    const h = harness({ test_iwae: -90 }, 'lvm');
    expect(await h.run(['eval', '--model', file, '--estimator', 'iwae', '--samples', '10', '--test-subset', '20', '--json'])).toBe(0);
    const { kind, entry, ctx } = h.calls[0]!;
    expect([kind, entry, ctx.test.n]).toEqual(['lvm', 'evaluate', 20]);
    expect(ctx.config).toEqual({ file, split: 'test', seed: 0, samples: 10, estimator: 'iwae', fitSteps: 200 });
    expect(JSON.parse(h.out[0]!)).toMatchObject({ command: 'eval', model: 'lvm', model_file: file, test_iwae: -90 });

    const u = harness({}, 'gmm');
    expect(await u.run(['eval', '--model', file])).toBe(1);
    expect(u.err.join('')).toContain("unknown model type 'gmm'");
    const m = harness();
    expect(await m.run(['eval', '--model', join(dir, 'absent.safetensors')])).toBe(1);
    expect(m.err.join('')).toMatch(/^latentgpu: model file .*absent.safetensors not found\n$/);
    const e = harness();
    expect(await e.run(['eval', '--model', file, '--estimator', 'best'])).toBe(1);
    expect(e.err.join('')).toContain('Allowed choices are exact, elbo, iwae, prior, prior-jensen');
  });

  it('eval reads the model type from the safetensors metadata', async () => {
    const err: string[] = [];
    const io = { stdout: () => {}, stderr: (s: string) => void err.push(s), env: {} };
    const tensors = { w: { dtype: 'F32' as const, shape: [2], data: Float32Array.from([1, 2]) } };
    const other = join(dir, 'other.safetensors');
    await saveSafetensors(other, tensors, { model: 'gmm' });
    const untyped = join(dir, 'untyped.safetensors');
    await saveSafetensors(untyped, tensors, { note: 'x' });
    const junk = join(dir, 'junk.safetensors');
    writeFileSync(junk, 'not a model file at all');
    for (const [file, fragment] of [
      [other, "unknown model type 'gmm'"],
      [untyped, 'no "model" key'],
      [junk, 'junk.safetensors'],
    ] as const) {
      err.length = 0;
      expect(await runCli(['eval', '--model', file, '--backend', 'cpu'], io, defaultDeps)).toBe(1);
      expect(err).toHaveLength(1);
      expect(err[0]).toMatch(/^latentgpu: /);
      expect(err[0]).toContain(fragment);
    }
  });
});

describe('backend auto', () => {
  const software: AutoProbe = { why: 'no Vulkan GPU driver is installed', software: { choice: 'llvmpipe', name: 'llvmpipe (LLVM 15.0.6, 256 bits)' } };

  it('on a machine with only a software adapter, runs on the CPU and says so in one line', async () => {
    const lines: string[] = [];
    const b = await createBackend({ backend: 'auto', adapter: 'auto', log: (m) => void lines.push(m), probe: async () => software });
    try {
      expect(b.info.backend).toBe('cpu');
    } finally {
      b.destroy();
    }
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toContain('\n');
    expect(lines[0]).toMatch(/^latentgpu: no hardware GPU, only the software adapter llvmpipe \(LLVM 15\.0\.6, 256 bits\), slower than the CPU backend/);
    expect(lines[0]).toContain('--adapter llvmpipe or --backend webgpu forces the adapter');
  });

  it('through the command line: the CPU summary on stdout, one notice on stderr; none found at all says so', async () => {
    for (const [probe, notice] of [
      [software, /only the software adapter llvmpipe/],
      [{ why: 'no Vulkan GPU driver is installed', software: null }, /^latentgpu: no WebGPU adapter here \(no Vulkan GPU driver is installed\); using the CPU backend\.$/],
    ] as const) {
      const out: string[] = [];
      const err: string[] = [];
      const deps: CliDeps = { ...defaultDeps, createBackend: (o) => createBackend({ ...o, probe: async () => probe }) };
      expect(await runCli(['info'], { stdout: (s) => void out.push(s), stderr: (s) => void err.push(s), env: {} }, deps)).toBe(0);
      expect(out.join('')).toMatch(/^cpu /);
      expect(err).toHaveLength(1);
      expect(err[0]!.trimEnd()).toMatch(notice);
    }
  });

  it('an adapter named by LATENTGPU_ADAPTER or --adapter reaches the backend (auto leaves it to the probe)', async () => {
    const seen: Array<{ backend?: string; adapter?: string }> = [];
    const deps: CliDeps = { ...defaultDeps, createBackend: async (o) => (seen.push({ backend: o.backend, adapter: o.adapter }), new CpuBackend()) };
    const io = { stdout: () => {}, stderr: () => {}, env: { LATENTGPU_ADAPTER: 'llvmpipe' } };
    expect(await runCli(['info'], io, deps)).toBe(0);
    expect(await runCli(['info', '--adapter', 'auto'], io, deps)).toBe(0);
    expect(await runCli(['info', '--backend', 'webgpu', '--adapter', 'swiftshader'], { ...io, env: {} }, deps)).toBe(0);
    expect(seen).toEqual([{ backend: 'auto', adapter: 'llvmpipe' }, { backend: 'auto', adapter: 'auto' }, { backend: 'webgpu', adapter: 'swiftshader' }]);
  });
});

describe('progress', () => {
  it('formats step info compactly', () => {
    expect(formatInfo({ epoch: 3, elbo: -101.23456, lr: 0.0001, phase: 'eval' })).toBe('epoch 3  elbo -101.2346  lr 1.000e-4  phase eval');
  });

  it('draws a bar on a terminal stream and keeps log lines intact', () => {
    const stream = Object.assign(new PassThrough(), { isTTY: true, columns: 120 }) as unknown as NodeJS.WriteStream;
    let text = '';
    (stream as unknown as PassThrough).on('data', (c: Buffer) => (text += c.toString()));
    const p = terminalProgress(stream);
    p.start(10, 'epochs');
    p.tick(4, { elbo: -99.5 });
    p.log('checkpoint written');
    p.stop();
    p.start(5, 'eval');
    p.tick(5);
    p.stop();
    expect(text).toContain('checkpoint written');
    expect(text).toMatch(/epochs \[[^\]]*\] 4\/10 \|.*elbo -99\.5000/);
    expect(text).toMatch(/eval \[[^\]]*\] 5\/5/);
  });
});
