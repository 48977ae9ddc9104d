// VAE training throughput (samples/s) on one backend per process: the classic
// 784→400→(20,20) / 20→400→784 Bernoulli VAE at batch 32, 128, 512 and the larger
// 784→1024→1024→32 network at batch 128, on MNIST rows. The CPU backend runs in
// a process that never created a WebGPU instance (Dawn may spin a core, DESIGN §3).
//   npx tsx bench/vae.ts --backend llvmpipe|swiftshader|cpu|reference [--steps N]
// (cpu: the WebAssembly SIMD backend, as `--backend cpu` on the CLI; reference: the TypeScript kernels)
//   npx tsx bench/vae.ts --all          (each backend in its own child process)
//   --only 128    runs the classic network at that batch only (quick checks; results not written)
// Writes bench/results/vae-<backend>.json and .md (and vae.md with --all).
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  CpuBackend, Vae, classicVaeConfig, createCpuBackend, createWebGpuBackend, loadMnist, train, type Backend, type VaeConfig,
} from '../src/index.ts';

const here = dirname(fileURLToPath(import.meta.url));
const resultsDir = join(here, 'results');
const args = process.argv.slice(2);
const arg = (name: string): string | undefined => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};

interface Row {
  network: string; batch: number; steps: number; samplesPerSecond: number; msPerStep: number;
  /** samples per second of process CPU time (all threads, the software adapters' workers included): steadier than wall time when other work shares the cores */
  samplesPerCpuSecond: number;
  /** load average (1 min) before and after the timed run */
  load: [number, number];
}

const CASES: { network: string; cfg: VaeConfig; batch: number }[] = [
  { network: '784-400-20 (classic)', cfg: classicVaeConfig(), batch: 32 },
  { network: '784-400-20 (classic)', cfg: classicVaeConfig(), batch: 128 },
  { network: '784-400-20 (classic)', cfg: classicVaeConfig(), batch: 512 },
  { network: '784-1024-1024-32', cfg: { ...classicVaeConfig(), latent: 32, encoderHidden: [1024, 1024], decoderHidden: [1024, 1024] }, batch: 128 },
];

async function measure(be: Backend, steps: number): Promise<Row[]> {
  const { train: ds } = loadMnist();
  const rows: Row[] = [];
  const only = arg('only');
  for (const c of CASES.filter((k) => !only || (k.batch === Number(only) && k.network.includes('classic')))) {
    const vae = new Vae(be, c.cfg, ds.x, ds.n);
    // warm-up: pipelines compiled, buffers pooled
    await train(vae, { epochs: 1, batch: c.batch, lr: 1e-3, seed: 0, maxSteps: 3 });
    const load0 = loadavg()[0]!;
    const cpu0 = process.cpuUsage();
    const r = await train(vae, { epochs: 100, batch: c.batch, lr: 1e-3, seed: 1, maxSteps: steps, checkEvery: 20 });
    const cpu = process.cpuUsage(cpu0);
    const cpuSeconds = (cpu.user + cpu.system) / 1e6;
    rows.push({
      network: c.network, batch: c.batch, steps, samplesPerSecond: r.samplesPerSecond, msPerStep: (1000 * r.seconds) / steps,
      samplesPerCpuSecond: (steps * c.batch) / cpuSeconds, load: [load0, loadavg()[0]!],
    });
    process.stderr.write(`${be.info.summary}: ${c.network} batch ${c.batch}: ${r.samplesPerSecond.toFixed(0)} samples/s, ${((steps * c.batch) / cpuSeconds).toFixed(0)} per CPU-s\n`);
    vae.release();
  }
  return rows;
}

function markdown(title: string, rows: Row[]): string {
  const lines = [`### ${title}`, '', `${new Date().toISOString()}, ${cpus().length} CPUs; per CPU-s: samples per second of this process's CPU time (all threads); load: 1-minute load average before → after.`, '',
    '| network | batch | samples/s | ms/step | samples per CPU-s | load | steps |', '|---|---:|---:|---:|---:|---|---:|'];
  for (const r of rows) {
    lines.push(`| ${r.network} | ${r.batch} | ${r.samplesPerSecond.toFixed(0)} | ${r.msPerStep.toFixed(1)} | ${r.samplesPerCpuSecond.toFixed(0)} | ${r.load.map((v) => v.toFixed(1)).join(' → ')} | ${r.steps} |`);
  }
  return `${lines.join('\n')}\n`;
}

async function main(): Promise<void> {
  mkdirSync(resultsDir, { recursive: true });
  if (args.includes('--all')) {
    const parts: string[] = ['# VAE training throughput', '', `Measured ${new Date().toISOString()} on this machine; MNIST rows, Adam, one submission per step.`, ''];
    for (const b of ['cpu', 'llvmpipe', 'swiftshader']) {
      execFileSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), '--backend', b, ...(arg('steps') ? ['--steps', arg('steps')!] : [])], { stdio: 'inherit' });
      parts.push(readFileSync(join(resultsDir, `vae-${b}.md`), 'utf8'));
    }
    writeFileSync(join(resultsDir, 'vae.md'), `${parts.join('\n')}`);
    return;
  }
  const choice = arg('backend') ?? 'llvmpipe';
  const steps = Number(arg('steps') ?? 40);
  let be: Backend;
  if (choice === 'cpu') {
    // the CPU backend users get: WebAssembly SIMD on every core (LATENTGPU_CPU_THREADS, LATENTGPU_CPU=reference apply)
    be = await createCpuBackend();
  } else if (choice === 'reference') {
    be = new CpuBackend();
  } else {
    be = await createWebGpuBackend(choice as 'llvmpipe' | 'swiftshader');
  }
  const rows = await measure(be, steps);
  if (arg('only')) {
    process.stdout.write(markdown(be.info.summary, rows));
    be.destroy();
    return;
  }
  const out = { backend: be.info.backend, adapter: be.info.adapter ?? null, summary: be.info.summary, date: new Date().toISOString(), rows };
  writeFileSync(join(resultsDir, `vae-${choice}.json`), `${JSON.stringify(out, null, 2)}\n`);
  writeFileSync(join(resultsDir, `vae-${choice}.md`), markdown(be.info.summary, rows));
  be.destroy();
}

await main();
process.exit(0);
