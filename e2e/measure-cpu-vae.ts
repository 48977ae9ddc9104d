// Classic VAE (784-400-20, Bernoulli, batch 128) training throughput on the
// app's CPU backend in headless Debian Chromium, against the built app served
// by `vite preview` (cross-origin isolated, so the WebAssembly backend gets its
// Web Worker threads). Not a test: prints each run, the median, the backend and
// the load average.
//   npx vite build && npx tsx e2e/measure-cpu-vae.ts [runs] [seconds per run] [--backend webgpu|cpu] [--threads N]
import { loadavg } from 'node:os';
import { chromium } from '@playwright/test';
import { preview } from 'vite';

const args = process.argv.slice(2);
const flag = args.indexOf('--backend');
const choice = flag >= 0 ? args.splice(flag, 2)[1]! : 'cpu';
const tflag = args.indexOf('--threads');
const threads = tflag >= 0 ? Number(args.splice(tflag, 2)[1]) : null;
const runs = Number(args[0] ?? 5);
const seconds = Number(args[1] ?? 4);
const PORT = Number(process.env.LATENTGPU_E2E_PORT ?? 4329);
const QUIET = ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-quic', '--no-first-run'];

const server = await preview({ configFile: 'vite.config.ts', preview: { host: '127.0.0.1', port: PORT, strictPort: true } });
const browser = await chromium.launch({ executablePath: process.env.LATENTGPU_CHROMIUM ?? '/usr/bin/chromium', args: ['--enable-unsafe-webgpu', ...QUIET] });
try {
  const page = await browser.newPage();
  page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') console.log(`page ${m.type()}: ${m.text()}`); });
  await page.goto(`http://127.0.0.1:${PORT}/`);
  await page.waitForFunction(() => !document.getElementById('adapter')!.textContent!.includes('acquiring'));
  const isolated = await page.evaluate(() => (window as unknown as { latentgpu: { crossOriginIsolated(): boolean } }).latentgpu.crossOriginIsolated());
  const load0 = loadavg();
  const rates: number[] = [];
  let backend = '';
  for (let r = 0; r < runs; r++) {
    const res = await page.evaluate(
      ([c, s, t]) => (window as unknown as { latentgpu: { measureTraining(c: string, k: string, cfg: object, s: number, t?: number): Promise<{ backend: string; samplesPerSecond: number }> } })
        .latentgpu.measureTraining(c as string, 'vae', { hidden: [400], latent: 20, batch: 128, stepsPerTick: 5, likelihood: 'bernoulli' }, s as number, t ?? undefined),
      [choice, seconds, threads] as const,
    );
    backend = res.backend;
    rates.push(res.samplesPerSecond);
    console.log(`run ${r + 1}: ${res.samplesPerSecond.toFixed(0)} samples/s`);
  }
  const sorted = [...rates].sort((a, b) => a - b);
  const load1 = loadavg();
  console.log(JSON.stringify({
    what: 'classic VAE 784-400-20 training, batch 128, MNIST 2048 rows', browser: `chromium ${browser.version()}`, backend,
    crossOriginIsolated: isolated, runs, secondsPerRun: seconds,
    median: sorted[Math.floor(sorted.length / 2)], best: sorted.at(-1), worst: sorted[0],
    loadAverageBefore: load0.map((x) => Number(x.toFixed(2))), loadAverageAfter: load1.map((x) => Number(x.toFixed(2))),
  }, null, 2));
} finally {
  await browser.close();
  await new Promise<void>((resolve) => server.httpServer.close(() => resolve()));
}
