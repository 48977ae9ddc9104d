// `npm run bench`: the whole benchmark suite, one child process per backend —
// the CPU backends first (processes that never create a WebGPU instance), then
// per WebGPU adapter (a real GPU when present, llvmpipe, SwiftShader) latentgpu
// and TensorFlow.js on the same adapter. Writes bench/results/<date>-<host>.json,
// .md and .svg. Children: bench/suite/cpu.ts, bench/cpu-wasm.ts (TF.js WASM
// anchor), bench/suite/webgpu.ts, bench/tfjs/bench.ts; report: bench/report.ts.
//   npx tsx bench/run.ts [--adapters gpu,llvmpipe,swiftshader] [--no-cpu] [--no-tfjs] [--out-dir DIR]
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { hostname, loadavg, tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { markdown, svgChart, type SuiteResults } from './report.ts';
import { ROOT, argValue, conditions, log, pkgVersion, type BenchRow, type ChildReport } from './suite/common.ts';

const adapters = argValue('adapters', 'gpu,llvmpipe,swiftshader')!.split(',').filter(Boolean);
const known = ['gpu', 'llvmpipe', 'swiftshader'];
for (const a of adapters) if (!known.includes(a)) throw new Error(`bench: unknown adapter '${a}' (one of ${known.join(', ')})`);
const withCpu = !process.argv.includes('--no-cpu');
const withTfjs = !process.argv.includes('--no-tfjs');
const outDir = argValue('out-dir', join(ROOT, 'bench', 'results'))!;
const started = new Date();
const t0 = performance.now();
const load0 = loadavg();
const tmp = mkdtempSync(join(tmpdir(), 'latentgpu-bench-'));
const children: SuiteResults['children'] = [];
const notes: string[] = [];

/** Runs a child with stderr passed through; resolves with its exit code. */
function run(args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
    p.on('error', reject);
    p.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
}

async function child(name: string, args: string[], out: string): Promise<ChildReport | null> {
  log(`\n== ${name}`);
  const s = performance.now();
  const code = await run(args);
  const seconds = (performance.now() - s) / 1e3;
  if (code === 3) {
    children.push({ name, status: 'no-adapter', seconds, message: 'no such adapter on this machine' });
    return null;
  }
  if (code !== 0 || !existsSync(out)) {
    children.push({ name, status: 'failed', seconds, message: `exit code ${code}` });
    throw new Error(`bench: ${name} failed (exit code ${code}); its messages are above`);
  }
  const report = JSON.parse(readFileSync(out, 'utf8')) as ChildReport;
  children.push({ name, status: 'ok', seconds, report });
  return report;
}

const tsx = ['--import', 'tsx'];
try {
  if (withCpu) {
    // the TypeScript reference is the slowest target (an oracle, single-threaded): its PPCA cost curve is left to the WASM backend
    await child('cpu-ts (TypeScript reference)', [...tsx, 'bench/suite/cpu.ts', '--backend', 'ts', '--parts', 'matmul,memory,vae,ppca-nocurve', '--out', join(tmp, 'cpu-ts.json')], join(tmp, 'cpu-ts.json'));
    await child('cpu-wasm (WebAssembly SIMD)', [...tsx, 'bench/suite/cpu.ts', '--backend', 'wasm', '--out', join(tmp, 'cpu-wasm.json')], join(tmp, 'cpu-wasm.json'));
    if (withTfjs) await cpuWasmAnchor();
  }
  for (const a of adapters) {
    const r = await child(`${a}: latentgpu`, [...tsx, 'bench/suite/webgpu.ts', '--adapter', a, '--out', join(tmp, `${a}.json`),
      // SwiftShader is 5–20× slower than llvmpipe here: no PPCA cost curve on it, to stay inside the suite's time budget
      ...(a === 'swiftshader' ? ['--parts', 'peak,matmul,memory,vae,breakdown,ppca-nocurve'] : [])], join(tmp, `${a}.json`));
    if (!r) {
      notes.push(`${a}: no adapter on this machine, skipped`);
      continue;
    }
    if (withTfjs) {
      await child(`${a}: TF.js`, ['--import', './bench/tfjs/register.mjs', ...tsx, 'bench/tfjs/bench.ts', '--adapter', a, '--out', join(tmp, `${a}-tfjs.json`)], join(tmp, `${a}-tfjs.json`));
    }
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}

/** bench/cpu-wasm.ts (its own files) for TF.js's WASM backend on the CPU: the CPU-side anchor. */
async function cpuWasmAnchor(): Promise<void> {
  const day = new Date().toISOString().slice(0, 10);
  log('\n== bench/cpu-wasm.ts --quick (TF.js WASM anchor)');
  const s = performance.now();
  const wall = Date.now();
  const code = await run([...tsx, 'bench/cpu-wasm.ts', '--quick', '--no-vae']);
  const seconds = (performance.now() - s) / 1e3;
  // a partial run writes cpu-wasm-<day>-partial.json when the day's full run is already there: take the file this run wrote
  const file = [`cpu-wasm-${day}-partial.json`, `cpu-wasm-${day}.json`].map((f) => join(ROOT, 'bench', 'results', f))
    .find((f) => existsSync(f) && statSync(f).mtimeMs >= wall - 1000) ?? '';
  if (code !== 0 || !file) {
    children.push({ name: 'bench/cpu-wasm.ts', status: 'failed', seconds, message: `exit code ${code}` });
    notes.push(`bench/cpu-wasm.ts failed (exit code ${code}): no TF.js WASM anchor`);
    return;
  }
  const raw = JSON.parse(readFileSync(file, 'utf8')) as {
    conditions?: { loadAverageAtStart?: number; loadAverageAtEnd?: number };
    rows: { what: string; backend: string; threads: number; medianMs: number; bestMs: number; median: number; best: number; unit: string }[];
  };
  const rows: BenchRow[] = raw.rows.filter((r) => r.backend === 'tfjs-wasm' && r.what === 'matmul 512³').map((r) => ({
    group: 'matmul', impl: 'tfjs', target: 'cpu-wasm', name: r.what, unit: r.unit, median: r.median, min: NaN, max: r.best, reps: NaN, ms: r.medianMs,
    params: { threads: r.threads, source: `bench/results/${basename(file)}` },
  }));
  children.push({ name: 'bench/cpu-wasm.ts (TF.js WASM)', status: 'ok', seconds, report: { target: 'cpu-wasm', impl: 'tfjs', adapter: null, rows, notes: ['TF.js WASM (XNNPACK, SIMD, one thread) from bench/cpu-wasm.ts: median and best of its timed calls'], loadavg: { start: [raw.conditions?.loadAverageAtStart ?? NaN], end: [raw.conditions?.loadAverageAtEnd ?? NaN] }, seconds } });
}

const host = hostname().replace(/[^A-Za-z0-9_.-]/g, '_');
const res: SuiteResults = {
  date: started.toISOString(), host, seconds: (performance.now() - t0) / 1e3, conditions: conditions(),
  versions: {
    webgpu: pkgVersion('webgpu'), 'tfjs-core': pkgVersion('@tensorflow/tfjs-core'), 'tfjs-backend-webgpu': pkgVersion('@tensorflow/tfjs-backend-webgpu'),
    'tfjs-backend-wasm': pkgVersion('@tensorflow/tfjs-backend-wasm'), wgsl_reflect: pkgVersion('wgsl_reflect'),
  },
  loadavg: { start: load0, end: loadavg() }, children, rows: children.flatMap((c) => c.report?.rows ?? []), notes,
};
mkdirSync(outDir, { recursive: true });
const base = join(outDir, `${started.toISOString().slice(0, 10)}-${host}`);
writeFileSync(`${base}.json`, `${JSON.stringify(res, null, 2)}\n`);
writeFileSync(`${base}.md`, markdown(res));
writeFileSync(`${base}.svg`, svgChart(res));
log(`\nwrote ${base}.json, .md, .svg in ${(res.seconds / 60).toFixed(1)} min`);
process.exit(0);
