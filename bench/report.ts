// The suite's report: Markdown (headline ratios against TF.js, the peak and the
// fractions of it, every table, the cost curves, where one VAE step's time goes)
// and an SVG chart, both generated from the merged results of bench/run.ts.
import type { BenchRow, ChildReport } from './suite/common.ts';
import { LARGE_VAE, VAE_CASES, vaeRowName } from './suite/vae-step.ts';
import { matmulRowName } from './suite/kernels.ts';
import type { VaeConfig } from '../src/index.ts';

export interface SuiteResults {
  date: string;
  host: string;
  seconds: number;
  conditions: Record<string, unknown>;
  versions: Record<string, string>;
  loadavg: { start: number[]; end: number[] };
  children: { name: string; status: 'ok' | 'no-adapter' | 'failed'; seconds: number; message?: string; report?: ChildReport }[];
  rows: BenchRow[];
  notes: string[];
}

/** Goals of issue #6: latentgpu / TF.js on the same adapter. */
export const GOALS = { vae: 4, matmul: 3 };
export const HEADLINE_VAE = vaeRowName(VAE_CASES[1]!);
export const HEADLINE_MATMUL = matmulRowName('512³');

/** Matmul FLOPs of one VAE training step: forward 2·B·in·out per layer, backward dW and dX the same, no dX for the data. */
export function vaeStepFlops(cfg: VaeConfig, batch: number): number {
  const enc = [cfg.dataDim, ...cfg.encoderHidden];
  const layers: [number, number][] = enc.slice(1).map((o, i) => [enc[i]!, o]);
  layers.push([enc[enc.length - 1]!, 2 * cfg.latent]);
  const dec = [cfg.latent, ...cfg.decoderHidden, cfg.dataDim];
  layers.push(...dec.slice(1).map((o, i) => [dec[i]!, o] as [number, number]));
  const sum = layers.reduce((s, [i, o]) => s + i * o, 0);
  return 2 * batch * (3 * sum - layers[0]![0] * layers[0]![1]);
}

const fmt = (x: number | undefined): string => {
  if (x === undefined || !Number.isFinite(x)) return '–';
  const a = Math.abs(x);
  return a >= 100 ? x.toFixed(0) : a >= 10 ? x.toFixed(1) : a >= 1 ? x.toFixed(2) : a >= 0.01 ? x.toFixed(3) : x.toPrecision(2);
};
const range = (r: BenchRow) => (Number.isFinite(r.min) ? `${fmt(r.min)}–${fmt(r.max)}` : `best ${fmt(r.max)}`);

function find(rows: BenchRow[], impl: string, target: string, name: string): BenchRow | undefined {
  return rows.find((r) => r.impl === impl && r.target === target && r.name === name);
}

function targetsOf(res: SuiteResults): string[] {
  const order = ['gpu', 'llvmpipe', 'swiftshader', 'cpu-wasm', 'cpu-ts'];
  const seen = [...new Set(res.rows.map((r) => r.target))];
  return seen.sort((a, b) => (order.indexOf(a) + 99 * +(order.indexOf(a) < 0)) - (order.indexOf(b) + 99 * +(order.indexOf(b) < 0)));
}

function adapterLine(res: SuiteResults, target: string): string {
  const c = res.children.find((ch) => ch.report?.target === target && ch.report.impl === 'latentgpu')?.report?.adapter as Record<string, unknown> | undefined;
  if (!c) return target;
  const fb = (c.kind ? `, profile ${String(c.kind)}` : '') + (c.isFallbackAdapter === undefined ? '' : `, isFallbackAdapter ${String(c.isFallbackAdapter)}`);
  const fl = c.featureLevel ? `, ${String(c.featureLevel)}` : '';
  const mv = c.matmulVariant ? `, matmul variant '${String(c.matmulVariant)}'` : '';
  return `${target}: ${String(c.name)}${fb}${fl}${mv}`;
}

export function markdown(res: SuiteResults): string {
  const L: string[] = [];
  const rows = res.rows;
  const targets = targetsOf(res);
  const adapters = targets.filter((t) => !t.startsWith('cpu'));
  L.push(`# latentgpu benchmark, ${res.date} on ${res.host}`, '');
  L.push(`\`npm run bench\` took ${(res.seconds / 60).toFixed(1)} min. ${String(res.conditions.cpuModel)}, ${String(res.conditions.cpus)} CPUs, Node ${String(res.conditions.node)}; ` +
    Object.entries(res.versions).map(([k, v]) => `${k} ${v}`).join(', ') + '.');
  L.push('', `Load average (1/5/15 min) ${res.loadavg.start.map((x) => x.toFixed(2)).join('/')} at the start, ${res.loadavg.end.map((x) => x.toFixed(2)).join('/')} at the end. ` +
    'The software adapters run on the same CPU cores as everything else on this machine: with a load above the core count, every figure here is lower than on an idle machine, and the spread (min–max) shows how much the run was disturbed.', '');
  L.push('Method: each figure is the median over repetitions (min–max given) after warm-up; every GPU sample ends with finish() and a readback, TF.js samples with tensor.data(). ' +
    'Each backend runs in its own process; the CPU backends in processes that never created a WebGPU instance. TF.js runs on the same Dawn adapter as latentgpu (navigator.gpu set to the same `webgpu` instance).', '');
  L.push('## Targets', '');
  for (const t of targets) L.push(`- ${adapterLine(res, t)}`);
  for (const ch of res.children.filter((c) => c.status !== 'ok')) L.push(`- ${ch.name}: ${ch.status}${ch.message ? ` (${ch.message})` : ''}`);
  L.push('');

  // ---- headline ----
  L.push('## latentgpu / TF.js on the same adapter', '');
  L.push(`| adapter | VAE step, classic, batch 128: latentgpu | TF.js | ratio (goal ≥ ${GOALS.vae}×) | matmul 512³: latentgpu | TF.js | ratio (goal ≥ ${GOALS.matmul}×) |`);
  L.push('|---|---:|---:|---:|---:|---:|---:|');
  for (const t of adapters) {
    const v = find(rows, 'latentgpu', t, HEADLINE_VAE), vt = find(rows, 'tfjs', t, HEADLINE_VAE);
    const m = find(rows, 'latentgpu', t, HEADLINE_MATMUL), mt = find(rows, 'tfjs', t, HEADLINE_MATMUL);
    const ratio = (a?: BenchRow, b?: BenchRow, goal = 1) => (a && b ? `**${fmt(a.median / b.median)}×** ${a.median / b.median >= goal ? '(met)' : '(short)'}` : '–');
    L.push(`| ${t} | ${fmt(v?.median)} samples/s | ${fmt(vt?.median)} | ${ratio(v, vt, GOALS.vae)} | ${fmt(m?.median)} GFLOP/s | ${fmt(mt?.median)} | ${ratio(m, mt, GOALS.matmul)} |`);
  }
  const cpuTf = rows.filter((r) => r.impl === 'tfjs' && r.target.startsWith('cpu'));
  if (cpuTf.length) {
    L.push('', 'CPU anchor (TF.js WASM backend, from bench/cpu-wasm.ts):', '');
    for (const r of cpuTf) {
      const ours = find(rows, 'latentgpu', r.target, r.name);
      L.push(`- ${r.name}: TF.js ${fmt(r.median)} ${r.unit}${ours ? `, latentgpu ${r.target} ${fmt(ours.median)} (${fmt(ours.median / r.median)}×)` : ''}`);
    }
  }
  L.push('');

  // ---- the limit ----
  L.push('## The limit: peak FMA throughput and the fraction of it reached', '');
  L.push('Peak: shaders/peak.wgsl, 16 independent FMA chains per invocation, no memory traffic, best workgroup size. ' +
    'VAE step GFLOP/s counts only its matmul FLOPs (forward, dW and dX; 2·B·in·out each), so the fraction is a lower bound on how busy the ALUs are.', '');
  L.push('| adapter | peak GFLOP/s | matmul 512³ | of peak | matmul 1024³ | of peak | VAE classic b128 GFLOP/s | of peak | VAE 784-1024-1024-32 b128 | of peak |');
  L.push('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const t of adapters) {
    const p = find(rows, 'latentgpu', t, 'peak FMA (shaders/peak.wgsl)');
    if (!p) continue;
    const m5 = find(rows, 'latentgpu', t, HEADLINE_MATMUL), m10 = find(rows, 'latentgpu', t, matmulRowName('1024³'));
    const vg = (name: string, cfg: VaeConfig) => {
      const r = find(rows, 'latentgpu', t, name);
      return r ? vaeStepFlops(cfg, 128) / (r.ms * 1e6) : undefined;
    };
    const v1 = vg(HEADLINE_VAE, VAE_CASES[1]!.cfg), v2 = vg(vaeRowName(VAE_CASES[3]!), LARGE_VAE);
    const pct = (x?: number) => (x === undefined ? '–' : `${((100 * x) / p.median).toFixed(0)}%`);
    L.push(`| ${t} | ${fmt(p.median)} (${range(p)}${p.params?.workgroup ? `, wg ${String(p.params.workgroup)}` : ''}) | ${fmt(m5?.median)} | ${pct(m5?.median)} | ${fmt(m10?.median)} | ${pct(m10?.median)} | ${fmt(v1)} | ${pct(v1)} | ${fmt(v2)} | ${pct(v2)} |`);
  }
  L.push('');

  // ---- where the time goes ----
  L.push('## Where the time of one VAE step goes (classic, batch 128)', '');
  for (const ch of res.children) {
    const b = ch.report?.extra?.breakdown as { summary: string; stepMs: number; stepMin: number; stepMax: number; sumOfCallsMs: number; byKernel: { kernel: string; calls: number; ms: number; share: number }[]; calls: { kernel: string; detail: string; ms: number; share: number }[] } | undefined;
    if (!b) continue;
    L.push(`### ${ch.report!.target}`, '', `Whole step ${fmt(b.stepMs)} ms (${fmt(b.stepMin)}–${fmt(b.stepMax)}); the ${b.calls.length} kernel calls timed alone sum to ${fmt(b.sumOfCallsMs)} ms ` +
      `(${b.sumOfCallsMs > b.stepMs ? 'more than the step: each replayed call pays its own synchronisation, and the load moved between the timings' : 'the rest is submission and synchronisation'}). From bench/vae-breakdown.ts.`, '');
    // on a loaded machine the calls timed alone can sum to more than the whole step: shares of that sum still rank them
    L.push('| kernel | calls | ms (timed alone) | share of Σ calls | share of the whole step |', '|---|---:|---:|---:|---:|');
    for (const k of b.byKernel) L.push(`| ${k.kernel} | ${k.calls} | ${fmt(k.ms)} | ${((100 * k.ms) / b.sumOfCallsMs).toFixed(1)}% | ${((100 * k.ms) / b.stepMs).toFixed(1)}% |`);
    const top = [...b.calls].sort((x, y) => y.ms - x.ms).slice(0, 5);
    L.push('', `Largest single calls: ${top.map((c) => `${c.kernel} ${c.detail} ${fmt(c.ms)} ms`).join('; ')}.`, '');
  }

  // ---- tables ----
  const table = (title: string, group: string, unit: string, withTf: boolean) => {
    const names = [...new Set(rows.filter((r) => r.group === group).map((r) => r.name))];
    if (!names.length) return;
    L.push(`## ${title} (${unit}, median and min–max)`, '');
    const cols = targets.filter((t) => rows.some((r) => r.group === group && r.target === t));
    const head = cols.flatMap((t) => (withTf && rows.some((r) => r.impl === 'tfjs' && r.group === group && r.target === t) ? [t, `TF.js ${t}`, 'ratio'] : [t]));
    L.push(`| | ${head.join(' | ')} |`, `|---|${head.map(() => '---:').join('|')}|`);
    for (const n of names) {
      const cells = cols.flatMap((t) => {
        const ours = find(rows, 'latentgpu', t, n);
        const c = [ours ? `${fmt(ours.median)} (${range(ours)})` : '–'];
        if (withTf && rows.some((r) => r.impl === 'tfjs' && r.group === group && r.target === t)) {
          const tf = find(rows, 'tfjs', t, n);
          c.push(tf ? `${fmt(tf.median)} (${range(tf)})` : '–', ours && tf ? `${fmt(ours.median / tf.median)}×` : '–');
        }
        return c;
      });
      L.push(`| ${n} | ${cells.join(' | ')} |`);
    }
    L.push('');
  };
  table('Matmul', 'matmul', 'GFLOP/s', true);
  table('Memory-bound kernels, 2²⁰ elements', 'memory', 'GB/s', false);
  table('VAE training', 'vae', 'samples/s', true);
  table('PPCA exact EM', 'ppca-em', 's/iteration', false);
  table('PPCA stochastic EM', 'ppca-sem', 'steps/s', false);

  // ---- cost curves ----
  L.push('## Cost curves', '', 'How the time grows with n, D, d and batch. Exponent: the log-log slope between the first and last point (time ∝ size^exponent).', '');
  const curve = (title: string, pick: (r: BenchRow) => boolean, x: (r: BenchRow) => number, xName: string, time: (r: BenchRow) => number, tUnit: string) => {
    const rs = rows.filter(pick);
    if (!rs.length) return;
    L.push(`### ${title}`, '', `| target | ${xName} → ${tUnit} | exponent |`, '|---|---|---:|');
    for (const t of targets) {
      const pts = rs.filter((r) => r.target === t && r.impl === 'latentgpu').sort((a, b) => x(a) - x(b));
      if (pts.length < 2) continue;
      const f = pts[0]!, l = pts[pts.length - 1]!;
      const e = Math.log(time(l) / time(f)) / Math.log(x(l) / x(f));
      L.push(`| ${t} | ${pts.map((p) => `${x(p)}: ${fmt(time(p))}`).join(', ')} | ${e.toFixed(2)} |`);
    }
    L.push('');
  };
  curve('matmul n×n×n', (r) => r.group === 'matmul' && r.params?.m === r.params?.n && r.params?.n === r.params?.k, (r) => r.params!.m as number, 'n', (r) => r.ms, 'ms/call');
  curve('VAE classic step vs batch', (r) => r.group === 'vae' && String(r.params?.network).includes('classic'), (r) => r.params!.batch as number, 'batch', (r) => r.ms, 'ms/step');
  curve('PPCA EM iteration vs n (MNIST rows, d = 10)', (r) => r.name === 'PPCA EM s/iter vs n', (r) => r.params!.n as number, 'n', (r) => r.median, 's/iter');
  curve('PPCA EM iteration vs d (MNIST 8000×784)', (r) => r.name === 'PPCA EM s/iter vs d', (r) => r.params!.d as number, 'd', (r) => r.median, 's/iter');
  curve('PPCA EM iteration vs D (synthetic, n = 4000, d = 10)', (r) => r.name === 'PPCA EM s/iter vs D', (r) => r.params!.D as number, 'D', (r) => r.median, 's/iter');

  L.push('## Notes', '');
  for (const n of new Set([...res.notes, ...res.children.flatMap((c) => c.report?.notes ?? [])])) L.push(`- ${n}`);
  L.push('- Per-child load average and duration:');
  for (const c of res.children) {
    const r = c.report;
    L.push(`  - ${c.name}: ${c.status}, ${c.seconds.toFixed(0)} s${r && Number.isFinite(r.loadavg.start[0]) ? `, load ${r.loadavg.start[0]!.toFixed(2)} → ${r.loadavg.end[0]!.toFixed(2)}` : ''}`);
  }
  L.push('');
  return L.join('\n');
}

// ---- SVG: bars on a log scale, one panel per figure -----------------------------
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function svgChart(res: SuiteResults): string {
  const rows = res.rows;
  const targets = targetsOf(res);
  const panels: { title: string; unit: string; bars: { label: string; value: number; color: string }[] }[] = [];
  const OURS = '#2b6cb0', TF = '#dd6b20', PEAK = '#718096';
  const bars = (name: string, withPeak: boolean) => targets.flatMap((t) => {
    const b: { label: string; value: number; color: string }[] = [];
    const p = withPeak ? find(rows, 'latentgpu', t, 'peak FMA (shaders/peak.wgsl)') : undefined;
    if (p) b.push({ label: `${t} peak`, value: p.median, color: PEAK });
    const o = find(rows, 'latentgpu', t, name), f = find(rows, 'tfjs', t, name);
    if (o) b.push({ label: `${t} latentgpu`, value: o.median, color: OURS });
    if (f) b.push({ label: `${t} TF.js`, value: f.median, color: TF });
    return b;
  });
  panels.push({ title: 'matmul 512³', unit: 'GFLOP/s', bars: bars(HEADLINE_MATMUL, true) });
  panels.push({ title: 'VAE training step, classic 784-400-20, batch 128', unit: 'samples/s', bars: bars(HEADLINE_VAE, false) });
  panels.push({ title: 'VAE 784-1024-1024-32, batch 128', unit: 'samples/s', bars: bars(vaeRowName(VAE_CASES[3]!), false) });
  const W = 760, labelW = 170, barH = 16, gap = 4, padTop = 40;
  let y = padTop;
  const parts: string[] = [];
  for (const p of panels) {
    if (!p.bars.length) continue;
    const vals = p.bars.map((b) => b.value).filter((v) => v > 0);
    const lo = 10 ** Math.floor(Math.log10(Math.min(...vals))), hi = 10 ** Math.ceil(Math.log10(Math.max(...vals)));
    const xOf = (v: number) => labelW + ((W - labelW - 60) * Math.log10(v / lo)) / Math.log10(hi / lo);
    parts.push(`<text x="10" y="${y}" font-size="14" font-weight="bold">${esc(p.title)} (${esc(p.unit)}, log scale)</text>`);
    y += 10;
    const top = y;
    for (const b of p.bars) {
      const w = Math.max(1, xOf(b.value) - labelW);
      parts.push(`<text x="${labelW - 6}" y="${y + barH - 4}" font-size="11" text-anchor="end">${esc(b.label)}</text>`);
      parts.push(`<rect x="${labelW}" y="${y}" width="${w.toFixed(1)}" height="${barH}" fill="${b.color}"/>`);
      parts.push(`<text x="${(labelW + w + 4).toFixed(1)}" y="${y + barH - 4}" font-size="11">${esc(fmt(b.value))}</text>`);
      y += barH + gap;
    }
    for (let v = lo; v <= hi * 1.0001; v *= 10) {
      const x = xOf(v).toFixed(1);
      parts.push(`<line x1="${x}" y1="${top - 2}" x2="${x}" y2="${y}" stroke="#ccc" stroke-width="0.5"/>`);
      parts.push(`<text x="${x}" y="${y + 12}" font-size="10" text-anchor="middle" fill="#555">${esc(fmt(v))}</text>`);
    }
    y += 40;
  }
  const legend = [[OURS, 'latentgpu'], [TF, 'TensorFlow.js 4.22 (same adapter)'], [PEAK, 'peak FMA kernel']]
    .map(([c, l], i) => `<rect x="${10 + i * 230}" y="12" width="12" height="12" fill="${c}"/><text x="${28 + i * 230}" y="22" font-size="12">${esc(l!)}</text>`).join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${y}" viewBox="0 0 ${W} ${y}" font-family="sans-serif">` +
    `<rect width="100%" height="100%" fill="white"/>${legend}${parts.join('')}` +
    `<text x="10" y="${y - 10}" font-size="10" fill="#555">${esc(`${res.date} on ${res.host}, load ${res.loadavg.start[0]!.toFixed(1)}→${res.loadavg.end[0]!.toFixed(1)}`)}</text></svg>\n`;
}

// npx tsx bench/report.ts bench/results/<date>-<host>.json: rewrite its .md and .svg (after a report change)
if (process.argv[1] && (await import('node:url')).fileURLToPath(import.meta.url) === process.argv[1]) {
  const { readFileSync, writeFileSync } = await import('node:fs');
  const file = process.argv[2];
  if (!file?.endsWith('.json')) throw new Error('usage: npx tsx bench/report.ts bench/results/<date>-<host>.json');
  const res = JSON.parse(readFileSync(file, 'utf8')) as SuiteResults;
  writeFileSync(file.replace(/\.json$/, '.md'), markdown(res));
  writeFileSync(file.replace(/\.json$/, '.svg'), svgChart(res));
}
