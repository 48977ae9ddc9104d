// Chromium launched WITHOUT --enable-unsafe-webgpu (see playwright.config.ts):
// the page says so, and everything trains on the CPU backend.
import type { Page } from '@playwright/test';
import { canvasContrast, curves, expect, openApp, screenshot, setValue, steps, test } from './fixtures.ts';

/**
 * The badge names the threads the app takes for the reported hardwareConcurrency
 * (src/wasm/browser.ts: all of them up to 8, worker threads only when more than one).
 */
async function expectThreads(page: Page, hardwareConcurrency: number): Promise<void> {
  const threads = Math.min(8, hardwareConcurrency || 1);
  const badge = page.getByTestId('adapter');
  await expect(badge).toContainText(threads > 1 ? `${threads} threads, Web Workers` : '1 thread, shared memory');
}

test('on a host reporting one core the CPU backend runs one thread and says so', async ({ page }) => {
  await page.addInitScript(() => Object.defineProperty(Navigator.prototype, 'hardwareConcurrency', { get: () => 1 }));
  await openApp(page);
  expect(await page.evaluate(() => navigator.hardwareConcurrency)).toBe(1);
  await expectThreads(page, 1);
});

test('without WebGPU the CPU notice appears and PPCA and the VAE train on the CPU backend', async ({ page }) => {
  await openApp(page);
  const notice = page.getByTestId('cpu-notice');
  await expect(notice).toBeVisible();
  await expect(notice).toContainText('CPU backend');
  await expect(page.getByTestId('adapter')).toContainText('CPU backend');
  // the WebAssembly SIMD backend, with Web Worker threads: preview sends COOP/COEP (vite.config.ts)
  await expect(page.getByTestId('adapter')).toContainText('WebAssembly SIMD');
  expect(await page.evaluate(() => globalThis.crossOriginIsolated), 'cross-origin isolated').toBe(true);
  await expectThreads(page, await page.evaluate(() => navigator.hardwareConcurrency));

  // PPCA exact EM on synthetic data reaches the closed-form optimum on the CPU
  await page.locator('#dataset').selectOption('synthetic');
  await page.locator('#model').selectOption('ppca-em');
  await setValue(page, 'latent', '2');
  await page.locator('#btn-start').click();
  await expect(page.getByTestId('state')).toHaveText('converged', { timeout: 60_000 });
  const optimum = Number(await page.getByTestId('optimum').textContent());
  const train = Number(await page.getByTestId('train-objective').textContent());
  expect(Math.abs(train - optimum), `train ${train} vs closed form ${optimum}`).toBeLessThan(1e-3);
  await screenshot(page, 'no-webgpu-ppca');

  // a small VAE on MNIST trains, and the page answers while it does
  await page.locator('#dataset').selectOption('mnist');
  await page.locator('#model').selectOption('vae');
  await setValue(page, 'mnist-subset', '512');
  await setValue(page, 'mnist-test', '128');
  await setValue(page, 'latent', '2');
  await setValue(page, 'hidden', '32');
  await setValue(page, 'batch', '32');
  await setValue(page, 'lr', '0.003');
  await setValue(page, 'steps-per-tick', '5');
  await page.locator('#btn-start').click();
  await expect(page.getByTestId('state')).toHaveText('running');
  await expect.poll(() => steps(page), { timeout: 90_000 }).toBeGreaterThanOrEqual(100);
  const t0 = Date.now();
  await page.locator('#btn-pause').click();
  await expect(page.getByTestId('state')).toHaveText('paused');
  expect(Date.now() - t0, 'ms until pause took effect').toBeLessThan(3000);
  const c = await curves(page);
  expect(c.train.at(-1)![1], 'train ELBO improved').toBeGreaterThan(c.train[0]![1] + 30);
  expect((await canvasContrast(page, 'samples')).spread).toBeGreaterThan(100);
  await screenshot(page, 'no-webgpu-vae');
});
