// The parts of bench/device-run.sh that no other bench script covers:
//   ppca:   seconds per exact-EM iteration and stochastic-EM steps/s on synthetic PPCA
//           data of n rows × D (MNIST-sized: n = 56,000, the train split of 70,000, D = 784)
//   scale:  stochastic-EM steps/s at a larger n (the n-row set repeated), against n = --n
//   report: merges the child reports of an output folder into device-<date>.json/.md/.svg
//   pack:   (run where node_modules is complete) writes DIR/node_modules.tgz, the Linux x64
//           packages the device run needs (~28 MB), for a machine that reaches no registry
//   npx tsx bench/device-bench.ts ppca  --adapter gpu --out FILE [--n 56000] [--dim 784] [--latent 10,50] [--em-iters 3]
//   npx tsx bench/device-bench.ts scale --adapter gpu --out FILE [--n 56000] [--scale-n 1000000] [--dim 784]
//   npx tsx bench/device-bench.ts report DIR
//   npx tsx bench/device-bench.ts pack DIR
// Exits 3 when the adapter is not there; a size over the adapter's limits is a note, not a failure.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import {
  adapterName, fitEm, fitSem, releaseData, releasePpca, syntheticPpca, uploadData,
  type AdapterChoice, type Backend, type Dataset,
} from '../src/index.ts';
import { markdown, svgChart, type SuiteResults } from './report.ts';
import { stats } from './shapes.ts';
import { ROOT, argValue, conditions, log, openAdapterOrExit, pkgVersion, writeReport, type BenchRow, type ChildReport } from './suite/common.ts';

const mode = process.argv[2];
const int = (name: string, fallback: number): number => {
  const v = Number(argValue(name, String(fallback)));
  if (!Number.isInteger(v) || v < 1) throw new Error(`bench/device-bench.ts: --${name} must be a positive integer`);
  return v;
};

/** Seconds per exact-EM iteration from the fit's trace (the first iterate follows setup and compilation). */
async function emRow(be: Backend, data: Dataset, d: number, iters: number, target: string): Promise<BenchRow> {
  const dev = uploadData(be, data);
  try {
    const r = await fitEm(be, dev, { d, maxIters: iters + 1, tol: 0, seed: 1 });
    releasePpca(r.model);
    const t = r.trace.slice(0, -1);
    const s = stats(t.slice(1).map((p, i) => p.seconds - t[i]!.seconds));
    return {
      group: 'ppca-em', impl: 'latentgpu', target, name: `PPCA exact EM, ${data.name} ${data.n}×${data.D}, d=${d}`,
      unit: 's/iter', median: s.median, min: s.min, max: s.max, reps: s.reps, ms: s.median * 1e3, params: { n: data.n, D: data.D, d, data: data.name },
    };
  } finally {
    releaseData(be, dev);
  }
}

/** Stochastic-EM steps/s (evaluations excluded), three repetitions of `steps` steps after one warm-up run. */
async function semRow(be: Backend, data: Dataset, d: number, batch: number, steps: number, target: string): Promise<BenchRow> {
  const dev = uploadData(be, data);
  try {
    const epochs = (k: number) => k / Math.ceil(data.n / batch);
    releasePpca((await fitSem(be, dev, { d, batch, epochs: epochs(Math.min(steps, 20)), lr: 1e-4, seed: 1, evalEvery: 0 })).model);
    const rates: number[] = [];
    for (let r = 0; r < 3; r++) {
      const sem = await fitSem(be, dev, { d, batch, epochs: epochs(steps), lr: 1e-4, seed: 2 + r, evalEvery: 0 });
      releasePpca(sem.model);
      rates.push(sem.stepsPerSecond);
    }
    const s = stats(rates);
    return {
      group: 'ppca-sem', impl: 'latentgpu', target, name: `PPCA stochastic EM, ${data.name} n=${data.n}, B=${batch}, d=${d}`,
      unit: 'steps/s', median: s.median, min: s.min, max: s.max, reps: s.reps, ms: 1e3 / s.median, params: { n: data.n, D: data.D, d, batch, data: data.name },
    };
  } finally {
    releaseData(be, dev);
  }
}

/** The n-row set repeated to `rows` rows (throughput does not depend on the values). */
function repeated(data: Dataset, rows: number): Dataset {
  const x = new Float32Array(rows * data.D);
  for (let off = 0; off < x.length; off += data.x.length) x.set(data.x.subarray(0, Math.min(data.x.length, x.length - off)), off);
  return { ...data, x, n: rows, name: `${data.name}-repeated` };
}

/** A row, or a note when the adapter cannot hold the data (one storage binding, one buffer) or the run fails. */
async function attempt(what: string, notes: string[], f: () => Promise<BenchRow>): Promise<BenchRow[]> {
  try {
    const row = await f();
    log(`  ${row.name}: ${row.median.toPrecision(4)} ${row.unit}`);
    return [row];
  } catch (e) {
    const msg = `${what}: not measured (${(e as Error).message.split('\n')[0]})`;
    log(`  ${msg}`);
    notes.push(msg);
    return [];
  }
}

async function measure(): Promise<void> {
  const adapter = argValue('adapter', 'gpu') as AdapterChoice;
  const out = argValue('out');
  if (!out) throw new Error('bench/device-bench.ts: --out FILE is required');
  const n = int('n', 56_000), D = int('dim', 784);
  const t0 = performance.now();
  const load0 = loadavg();
  const gpu = await openAdapterOrExit(adapter);
  const a = gpu.info.adapter!;
  log(`${adapter}: ${adapterName(a)}`);
  const g = performance.now();
  const data: Dataset = { ...syntheticPpca({ n, D, d: 10, sigma: 0.5, seed: 1 }).data, name: 'synthetic' };
  log(`  synthetic ${n}×${D} generated in ${((performance.now() - g) / 1e3).toFixed(1)} s`);
  const rows: BenchRow[] = [];
  const notes: string[] = [];
  // compile the pipelines on a small problem first, so no timed interval pays for them
  const small = uploadData(gpu, { ...data, x: data.x.subarray(0, 256 * D), n: 256 });
  releasePpca((await fitEm(gpu, small, { d: 2, maxIters: 2, tol: 0, seed: 1 })).model);
  releaseData(gpu, small);
  if (mode === 'ppca') {
    const iters = int('em-iters', 3);
    for (const d of (argValue('latent', '10,50')!).split(',').map(Number)) {
      rows.push(...await attempt(`exact EM n=${n} d=${d}`, notes, () => emRow(gpu, data, d, iters, adapter)));
      rows.push(...await attempt(`stochastic EM n=${n} d=${d}`, notes, () => semRow(gpu, data, d, 100, int('sem-steps', 200), adapter)));
    }
  } else {
    // the same number of steps at both sizes: the larger n should cost no more per step
    const big = int('scale-n', 1_000_000), steps = int('sem-steps', 200);
    rows.push(...await attempt(`stochastic EM n=${n}`, notes, () => semRow(gpu, data, 10, 100, steps, adapter)));
    rows.push(...await attempt(`stochastic EM n=${big}`, notes, () => semRow(gpu, repeated(data, big), 10, 100, steps, adapter)));
    if (rows.length === 2) notes.push(`${adapter}: stochastic EM at n=${big} runs at ${(rows[1]!.median / rows[0]!.median).toFixed(2)}× its n=${n} rate`);
  }
  const info = { ...a, name: adapterName(a), limits: a.limits };
  gpu.destroy();
  const report: ChildReport = { target: adapter, impl: 'latentgpu', adapter: info, rows, notes, loadavg: { start: load0, end: loadavg() }, seconds: (performance.now() - t0) / 1e3 };
  writeReport(out, report);
}

/** device-<date>.json/.md/.svg from the child reports (*.json with rows) and steps.tsv of a device-run folder. */
function report(dir: string): void {
  const children: SuiteResults['children'] = [];
  const steps = existsSync(join(dir, 'steps.tsv'))
    ? readFileSync(join(dir, 'steps.tsv'), 'utf8').trim().split('\n').filter((l) => !l.startsWith('#') && !l.startsWith('step\t')).map((l) => l.split('\t'))
    : [];
  for (const f of readdirSync(dir).filter((f) => f.endsWith('.json') && !f.startsWith('device-')).sort()) {
    const r = JSON.parse(readFileSync(join(dir, f), 'utf8')) as Partial<ChildReport>;
    if (!Array.isArray(r.rows)) continue;
    children.push({ name: f.replace(/\.json$/, ''), status: 'ok', seconds: r.seconds ?? NaN, report: r as ChildReport });
  }
  for (const [name, status, seconds, note] of steps) {
    if (status !== 'ok') children.push({ name: `step ${name}`, status: 'failed', seconds: Number(seconds), message: `${status}${note ? `: ${note}` : ''}` });
  }
  const started = statTime(dir);
  const res: SuiteResults = {
    date: started, host: String(conditions().host), seconds: steps.reduce((s, r) => s + Number(r[2] ?? 0), 0), conditions: conditions(),
    versions: { webgpu: pkgVersion('webgpu'), wgsl_reflect: pkgVersion('wgsl_reflect') },
    loadavg: { start: children[0]?.report?.loadavg.start ?? [NaN], end: loadavg() },
    children, rows: children.flatMap((c) => c.report?.rows ?? []),
    notes: ['bench/device-run.sh: each step in its own process under a time limit; steps.tsv lists them, logs/ holds their output'],
  };
  const base = join(dir, `device-${started.slice(0, 10)}`);
  writeFileSync(`${base}.json`, `${JSON.stringify(res, null, 2)}\n`);
  writeFileSync(`${base}.md`, markdown(res).replace('`npm run bench` took', '`bench/device-run.sh` took'));
  writeFileSync(`${base}.svg`, svgChart(res));
  log(`wrote ${base}.json, .md, .svg`);
}

/** When the run started: steps.tsv's first line says so, else now. */
function statTime(dir: string): string {
  const f = join(dir, 'steps.tsv');
  const m = existsSync(f) ? /^# started (\S+)/.exec(readFileSync(f, 'utf8')) : null;
  return m ? m[1]! : new Date().toISOString();
}

/** What the device run imports: the runtime dependencies, tsx to run TypeScript, vitest for the tests. */
const PACKED = ['webgpu', 'wgsl_reflect', 'commander', 'cli-progress', 'ml-matrix', 'pngjs', 'tsx', 'vitest'];

interface LockEntry {
  dependencies?: Record<string, string>; optionalDependencies?: Record<string, string>; peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>; os?: string[]; cpu?: string[]; libc?: string[];
}

/** node_modules paths of PACKED and everything they load on Linux x64 (glibc), from package-lock.json. */
function runtimeClosure(): string[] {
  const pk = (JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> }).packages;
  // Node's resolution: the nearest node_modules/<name> from the requiring package upwards
  const resolve = (from: string, name: string): string | null => {
    for (let base = from; ; base = base.slice(0, Math.max(0, base.lastIndexOf('/node_modules/')))) {
      const cand = `${base ? `${base}/` : ''}node_modules/${name}`;
      if (pk[cand]) return cand;
      if (!base) return null;
    }
  };
  const seen = new Set<string>();
  const stack = PACKED.map((p) => `node_modules/${p}`);
  while (stack.length) {
    const p = stack.pop()!;
    const e = pk[p];
    if (seen.has(p) || !e) continue;
    if ((e.os && !e.os.includes('linux')) || (e.cpu && !e.cpu.includes('x64')) || (e.libc && !e.libc.includes('glibc'))) continue;
    seen.add(p);
    const optionalPeer = new Set(Object.entries(e.peerDependenciesMeta ?? {}).filter(([, m]) => m.optional).map(([k]) => k));
    for (const d of Object.keys({ ...e.dependencies, ...e.optionalDependencies, ...e.peerDependencies })) {
      const r = optionalPeer.has(d) ? null : resolve(p, d);
      if (r) stack.push(r);
    }
  }
  return [...seen].sort();
}

function pack(dir: string): void {
  mkdirSync(dir, { recursive: true });
  const paths = [...runtimeClosure(), 'node_modules/.bin/tsx', 'node_modules/.bin/vitest'];
  const missing = paths.filter((p) => !existsSync(join(ROOT, p)));
  if (missing.length) throw new Error(`bench/device-bench.ts pack: ${missing.join(', ')} missing: run npm ci first`);
  const out = join(dir, 'node_modules.tgz');
  // Dawn's binaries for the other platforms are most of the webgpu package
  const r = spawnSync('tar', ['czf', out, '-C', ROOT, ...['darwin-*', 'win32-*', 'linux-arm64'].map((p) => `--exclude=node_modules/webgpu/dist/${p}`), ...paths], { stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`bench/device-bench.ts pack: tar failed (exit code ${r.status})`);
  log(`wrote ${out}: ${paths.length} packages`);
}

if (mode === 'ppca' || mode === 'scale') await measure();
else if (mode === 'report' && process.argv[3]) report(process.argv[3]);
else if (mode === 'pack' && process.argv[3]) pack(process.argv[3]);
else throw new Error('usage: bench/device-bench.ts ppca|scale --adapter A --out FILE [...] | report DIR | pack DIR');
process.exit(0);
