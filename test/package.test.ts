// The published package as a user gets it: `npm pack` (which builds dist/),
// the tarball installed into a fresh project outside the repository, the Node
// example run there on the CPU and on WebGPU, the installed `latentgpu` command,
// and the web example type-checked against the package's declarations, built
// with Vite and trained in headless Chromium. Each checks real figures.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { extname, join, resolve } from 'node:path';
import { chromium } from 'playwright';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM, QUIET } from '../playwright.config.ts';

const ROOT = resolve(import.meta.dirname, '..');
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const seconds: Record<string, number> = {};
let dir = '';

function timed<T>(what: string, f: () => T): T {
  const t0 = performance.now();
  try {
    return f();
  } finally {
    seconds[what] = Math.round((performance.now() - t0) / 100) / 10;
  }
}

/** Runs a command; a failure shows its output. */
function run(cmd: string, args: string[], cwd: string, timeout = 90_000): string {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout, env: { ...process.env, npm_config_update_notifier: 'false' } });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} (in ${cwd}) exited ${r.status ?? r.signal}:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** The JSON lines an example prints, by model. */
function figures(stdout: string): Record<string, Record<string, unknown>> {
  const out: Record<string, Record<string, unknown>> = {};
  for (const line of stdout.split('\n').filter((l) => l.startsWith('{'))) {
    const o = JSON.parse(line) as Record<string, unknown>;
    out[String(o.model)] = o;
  }
  return out;
}

/** PPCA's log-likelihoods finite; the VAE's ELBO finite, rising epoch on epoch, and a test ELBO. */
function expectTrained(ppca: { train: unknown; test: unknown }, vae: { epochs: unknown; test: unknown }): void {
  for (const v of [ppca.train, ppca.test, vae.test]) expect(Number.isFinite(v), `figure ${String(v)}`).toBe(true);
  const elbo = vae.epochs as number[];
  expect(elbo.length).toBeGreaterThanOrEqual(2);
  for (const e of elbo) expect(Number.isFinite(e)).toBe(true);
  for (let i = 1; i < elbo.length; i++) expect(elbo[i]!, `ELBO per epoch ${elbo.join(', ')}`).toBeGreaterThan(elbo[i - 1]!);
  expect(vae.test as number).toBeLessThan(0);
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'latentgpu-pack-'));
  // prepack builds dist/ (scripts/build-lib.mjs)
  const tarball = timed('pack', () => run(NPM, ['pack', '--pack-destination', dir, '--silent'], ROOT, 120_000)).trim().split('\n').at(-1)!;
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'latentgpu-user', private: true, type: 'module' }));
  cpSync(join(ROOT, 'examples/node-train.mjs'), join(dir, 'node-train.mjs'));
  cpSync(join(ROOT, 'examples/web'), join(dir, 'web'), { recursive: true, filter: (src) => !src.includes('node_modules') && !src.endsWith('/dist') });
  const vite = (JSON.parse(readFileSync(join(ROOT, 'node_modules/vite/package.json'), 'utf8')) as { version: string }).version;
  // the registry is reachable; the npm cache makes a repeat install quick
  timed('install', () => run(NPM, ['install', `./${tarball}`, `vite@${vite}`, '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'], dir, 180_000));
}, 300_000);

afterAll(() => {
  console.log(`package test seconds: ${JSON.stringify(seconds)}`);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('the packed package installed in a fresh project', () => {
  it('holds compiled JavaScript, declarations and assets, and no TypeScript sources', () => {
    const pkg = join(dir, 'node_modules/latentgpu');
    const top = readdirSync(pkg).sort();
    expect(top).toEqual(['README.md', 'bin', 'data', 'dist', 'package.json', 'shaders']);
    const dist = readdirSync(join(pkg, 'dist'), { recursive: true }) as string[];
    expect(dist).toContain('index.js');
    expect(dist).toContain('index.d.ts');
    expect(dist).toContain('browser.js');
    expect(dist).toContain(join('wasm', 'kernels-mt-fma.wasm'));
    expect(dist).toContain(join('wasm', 'worker.node.js'));
    expect(dist.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))).toEqual([]);
    expect(dist.some((f) => f.startsWith('app'))).toBe(false);
    // tsx is a development tool: nothing installed for the user pulls it in
    expect(readdirSync(join(dir, 'node_modules'))).not.toContain('tsx');
  });

  it('runs the Node example on the CPU backend: PPCA log-likelihood and a rising VAE ELBO', () => {
    const out = timed('node example cpu', () => run('node', ['node-train.mjs', '--backend', 'cpu', '--rows', '1000', '--epochs', '3'], dir));
    const f = figures(out);
    expect(out).toMatch(/^cpu \(WebAssembly SIMD/m);
    expect(f.ppca!.train_loglik as number).toBeGreaterThan(100); // MNIST, d = 10: about 190 nats/digit
    expectTrained({ train: f.ppca!.train_loglik, test: f.ppca!.test_loglik }, { epochs: f.vae!.epoch_elbo, test: f.vae!.test_elbo });
  });

  it('runs the Node example on a WebGPU adapter (the WGSL read from the package)', () => {
    const out = timed('node example webgpu', () => run('node', ['node-train.mjs', '--backend', 'webgpu', '--rows', '500', '--epochs', '2'], dir));
    const f = figures(out);
    expect(out).toMatch(/^webgpu/m);
    expectTrained({ train: f.ppca!.train_loglik, test: f.ppca!.test_loglik }, { epochs: f.vae!.epoch_elbo, test: f.vae!.test_elbo });
  });

  it('runs the installed latentgpu command from dist/', () => {
    const info = JSON.parse(timed('bin info', () => run(join(dir, 'node_modules/.bin/latentgpu'), ['info', '--backend', 'cpu', '--json'], dir))) as { backend: string };
    expect(info.backend).toBe('cpu');
    const trained = JSON.parse(timed('bin train', () => run(join(dir, 'node_modules/.bin/latentgpu'),
      ['train', '--model', 'ppca', '--backend', 'cpu', '--data', 'synthetic', '--n', '500', '--dim', '20', '--latent', '3', '--json'], dir))) as Record<string, number>;
    expect(Number.isFinite(trained.train_loglik) && Number.isFinite(trained.test_loglik)).toBe(true);
    // exact EM reaches the closed-form maximum
    expect(trained.gap_to_closed_form).toBeLessThan(1e-3);
  });

  it('type-checks, builds with Vite and trains PPCA and a VAE in headless Chromium', async () => {
    const web = join(dir, 'web');
    // the example against the installed declarations (the browser condition's dist/browser.d.ts)
    timed('web tsc', () => run('node', [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], web));
    timed('web vite build', () => run('node', [join(dir, 'node_modules/vite/bin/vite.js'), 'build', '--logLevel', 'warn'], web));
    const server = await serveStatic(join(web, 'dist'));
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--enable-unsafe-webgpu', ...QUIET] });
    try {
      for (const query of ['backend=auto&rows=1000&epochs=3', 'backend=webgpu&rows=300&epochs=2&iters=20']) {
        const t0 = performance.now();
        const page = await browser.newPage();
        const logs: string[] = [];
        page.on('console', (m) => logs.push(m.text()));
        await page.goto(`http://127.0.0.1:${(server.address() as AddressInfo).port}/?${query}`);
        await page.waitForFunction(() => document.body.dataset.result ?? document.body.dataset.error, null, { timeout: 90_000 });
        const shown = await page.locator('#out').textContent();
        const error = await page.evaluate(() => document.body.dataset.error);
        expect(error, `${shown}\n${logs.join('\n')}`).toBeUndefined();
        const r = JSON.parse((await page.evaluate(() => document.body.dataset.result))!) as {
          backend: string; ppca: { train: number; test: number }; vae: { epochs: number[]; test: number };
        };
        expectTrained(r.ppca, r.vae);
        if (query.startsWith('backend=webgpu')) expect(r.backend).toBe('webgpu');
        // the CPU backend is the package's WebAssembly build, on worker threads (the page is cross-origin isolated)
        if (r.backend === 'cpu') expect(shown).toMatch(/WebAssembly SIMD, \d+ threads, Web Workers/);
        await page.close();
        seconds[`web ${query.split('&')[0]}`] = Math.round((performance.now() - t0) / 100) / 10;
      }
    } finally {
      await browser.close();
      server.close();
    }
  });
});

const TYPES: Record<string, string> = {
  '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm', '.bin': 'application/octet-stream',
};

/** dist/ on 127.0.0.1 with the cross-origin isolation headers the CPU backend's threads need. */
function serveStatic(root: string): Promise<Server> {
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const file = resolve(root, `.${path === '/' ? '/index.html' : path}`);
    let body: Buffer;
    try {
      if (!file.startsWith(root)) throw new Error('outside');
      body = readFileSync(file);
    } catch {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, {
      'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream',
      'Cross-Origin-Opener-Policy': 'same-origin',
      'Cross-Origin-Embedder-Policy': 'require-corp',
    }).end(body);
  });
  return new Promise((ok) => server.listen(0, '127.0.0.1', () => ok(server)));
}
