// `npm run bench:browser`: the headline comparison (peak, matmul 512³, classic
// VAE step at batch 128; latentgpu vs TF.js) in headless Debian Chromium, on the
// adapter the browser offers (SwiftShader here). Serves bench/browser/ with Vite
// on 127.0.0.1 (a secure context, so navigator.gpu exists), drives the page with
// Playwright and writes bench/results/<date>-<host>-browser.json and .md.
//   npx tsx bench/browser/run.ts [--chromium /usr/bin/chromium] [--timeout-s 900]
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, hostname, loadavg } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright';
import { createServer } from 'vite';
import type { BenchRow } from '../suite/common.ts';
import { ROOT, argValue, log, pkgVersion } from '../suite/common.ts';

const exe = argValue('chromium', process.env.LATENTGPU_CHROMIUM ?? '/usr/bin/chromium')!;
const timeoutMs = Number(argValue('timeout-s', '900')) * 1e3;
// the flags of DESIGN §3 (and playwright.config.ts)
const ARGS = ['--enable-unsafe-webgpu', '--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-quic', '--no-first-run'];

const started = new Date();
const load0 = loadavg();
const server = await createServer({
  configFile: false, root: join(ROOT, 'bench', 'browser'), logLevel: 'warn',
  server: { host: '127.0.0.1', port: 0, strictPort: false, fs: { allow: [ROOT] } },
  optimizeDeps: { include: ['@tensorflow/tfjs-core', '@tensorflow/tfjs-backend-webgpu'] },
});
await server.listen();
const addr = server.httpServer!.address();
if (!addr || typeof addr === 'string') throw new Error('bench:browser: the Vite server has no port');
const url = `http://127.0.0.1:${addr.port}/index.html?run`;
const browser = await chromium.launch({ executablePath: exe, args: ARGS, headless: true });
let result: { userAgent: string; adapter: Record<string, unknown>; rows: BenchRow[]; date: string };
try {
  const page = await browser.newPage();
  page.on('console', (m) => log(`[page] ${m.text()}`));
  page.on('pageerror', (e) => log(`[page error] ${e.message}`));
  await page.goto(url);
  await page.waitForFunction(() => window.__bench?.done === true, null, { timeout: timeoutMs, polling: 1000 });
  const b = await page.evaluate(() => window.__bench!);
  if (b.error) throw new Error(`bench:browser: the page failed: ${b.error}`);
  result = b.result as typeof result;
} finally {
  await browser.close();
  await server.close();
}

const rows = result.rows;
const get = (impl: string, name: string) => rows.find((r) => r.impl === impl && r.name === name);
const fmt = (x?: number) => (x === undefined ? '–' : x >= 100 ? x.toFixed(0) : x >= 1 ? x.toFixed(2) : x.toPrecision(2));
const names = [...new Set(rows.map((r) => r.name))];
const peak = get('latentgpu', 'peak FMA (shaders/peak.wgsl)');
const host = hostname().replace(/[^A-Za-z0-9_.-]/g, '_');
const load1 = loadavg();
const md = [
  `# latentgpu vs TF.js in headless Chromium, ${started.toISOString()} on ${host}`, '',
  `${result.userAgent}; adapter: ${[result.adapter.vendor, result.adapter.architecture, result.adapter.device, result.adapter.description].filter(Boolean).join(' ')}, profile ${String(result.adapter.kind)}, isFallbackAdapter ${String(result.adapter.isFallbackAdapter)}, matmul variant '${String(result.adapter.matmulVariant)}'. ` +
  `TF.js ${pkgVersion('@tensorflow/tfjs-core')} (WebGPU backend ${pkgVersion('@tensorflow/tfjs-backend-webgpu')}). ${cpus().length} CPUs, load average ${load0.map((x) => x.toFixed(2)).join('/')} at the start, ${load1.map((x) => x.toFixed(2)).join('/')} at the end (a shared machine: the software adapter competes with everything else).`,
  '', 'Median over repetitions (min–max) after warm-up; each sample ends with a readback.', '',
  '| figure | unit | latentgpu | TF.js | latentgpu / TF.js | of peak (latentgpu) |', '|---|---|---:|---:|---:|---:|',
  ...names.map((n) => {
    const o = get('latentgpu', n), t = get('tfjs', n);
    const frac = o && peak && o.unit === 'GFLOP/s' && o !== peak ? `${((100 * o.median) / peak.median).toFixed(0)}%` : '';
    return `| ${n} | ${(o ?? t)!.unit} | ${o ? `${fmt(o.median)} (${fmt(o.min)}–${fmt(o.max)})` : '–'} | ${t ? `${fmt(t.median)} (${fmt(t.min)}–${fmt(t.max)})` : '–'} | ${o && t ? `**${fmt(o.median / t.median)}×**` : ''} | ${frac} |`;
  }),
  '',
].join('\n');
const out = join(ROOT, 'bench', 'results');
mkdirSync(out, { recursive: true });
const base = join(out, `${started.toISOString().slice(0, 10)}-${host}-browser`);
writeFileSync(`${base}.json`, `${JSON.stringify({ ...result, host, loadavg: { start: load0, end: load1 }, chromium: exe, flags: ARGS }, null, 2)}\n`);
writeFileSync(`${base}.md`, md);
process.stdout.write(md);
log(`wrote ${base}.json and .md`);
process.exit(0);
