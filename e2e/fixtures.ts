// Shared test setup: a page that fails the test on any console error or
// uncaught exception, and helpers that read the app's state.
import { expect, test as base, type Page } from '@playwright/test';
import { mkdirSync } from 'node:fs';

export const SCREENS = 'test-results/screens';

export const test = base.extend<{ errors: string[] }>({
  errors: [
    async ({ page }, use) => {
      const errors: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error') errors.push(`console.error: ${m.text()}`);
      });
      page.on('pageerror', (e) => errors.push(`uncaught: ${e.message}`));
      await use(errors);
      expect(errors, 'console errors during the test').toEqual([]);
    },
    { auto: true },
  ],
});
export { expect };

export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENS, { recursive: true });
  await page.screenshot({ path: `${SCREENS}/${name}.png`, fullPage: true });
}

/**
 * Opens the app and waits until a backend is chosen. `backend: 'webgpu'` forces
 * WebGPU (?backend=webgpu): by default the app prefers the CPU backend to a
 * software adapter such as Chromium's SwiftShader.
 */
export async function openApp(page: Page, opts: { backend?: 'auto' | 'webgpu' | 'cpu' } = {}): Promise<void> {
  await page.goto(opts.backend ? `/?backend=${opts.backend}` : '/');
  await expect(page.getByTestId('adapter')).not.toContainText('acquiring');
}

export async function curves(page: Page): Promise<{ train: [number, number][]; test: [number, number][] }> {
  return page.evaluate(() => (window as unknown as { latentgpu: { curves(): { train: [number, number][]; test: [number, number][] } } }).latentgpu.curves());
}

export async function steps(page: Page): Promise<number> {
  return page.evaluate(() => (window as unknown as { latentgpu: { steps(): number } }).latentgpu.steps());
}

/** The canvas has pixels of at least two clearly different grey levels (not blank). */
export async function canvasContrast(page: Page, testId: string): Promise<{ width: number; distinct: number; spread: number }> {
  return page.getByTestId(testId).evaluate((el) => {
    const c = el as HTMLCanvasElement;
    const ctx = c.getContext('2d')!;
    const px = ctx.getImageData(0, 0, c.width, c.height).data;
    const levels = new Set<number>();
    let lo = 255;
    let hi = 0;
    for (let p = 0; p < px.length; p += 4) {
      const g = px[p]!;
      if (g === 40) continue; // the grid's gaps
      levels.add(g);
      lo = Math.min(lo, g);
      hi = Math.max(hi, g);
    }
    return { width: c.width, distinct: levels.size, spread: hi - lo };
  });
}

export async function setValue(page: Page, id: string, value: string): Promise<void> {
  await page.locator(`#${id}`).fill(value);
}

/** The synthetic PPCA data of the setup panel (D = 16, true d = 2, 500 rows, σ = 0.3, seed 1) and a model of `kind` with latent d. */
export const SYNTHETIC = { n: 500, D: 16, d: 2, sigma: 0.3, seed: 1 } as const;

export async function setupSynthetic(page: Page, backend: 'webgpu' | 'cpu', kind: string, latent = 2): Promise<void> {
  await openApp(page, { backend });
  await page.locator('#dataset').selectOption('synthetic');
  await setValue(page, 'syn-D', String(SYNTHETIC.D));
  await setValue(page, 'syn-d', String(SYNTHETIC.d));
  await setValue(page, 'syn-n', String(SYNTHETIC.n));
  await setValue(page, 'syn-sigma', String(SYNTHETIC.sigma));
  await setValue(page, 'syn-seed', String(SYNTHETIC.seed));
  await page.locator('#model').selectOption(kind);
  await setValue(page, 'latent', String(latent));
}

/** A number shown in the element with this test id. */
export async function shown(page: Page, testId: string): Promise<number> {
  return Number(await page.getByTestId(testId).textContent());
}

/** The page's test hooks (app/main.ts `window.latentgpu`), one by name. */
export async function hook<T>(page: Page, name: string): Promise<T> {
  return page.evaluate((n) => (window as unknown as { latentgpu: Record<string, () => unknown> }).latentgpu[n]!(), name) as Promise<T>;
}

/** MNIST in the setup panel (`train` and `test` rows of the bundled split) and a model of `kind` with latent d. */
export async function setupMnist(page: Page, backend: 'webgpu' | 'cpu', kind: string, o: { train: number; test: number; latent: number }): Promise<void> {
  await openApp(page, { backend });
  await page.locator('#dataset').selectOption('mnist');
  await setValue(page, 'mnist-subset', String(o.train));
  await setValue(page, 'mnist-test', String(o.test));
  await page.locator('#model').selectOption(kind);
  await setValue(page, 'latent', String(o.latent));
}

/** Two "step once" clicks, each waited for, until the step counter shows `total`. */
export async function stepTwice(page: Page, total: number): Promise<void> {
  await page.locator('#btn-step').click();
  await expect(page.getByTestId('state')).toHaveText('idle');
  await page.locator('#btn-step').click();
  await expect(page.getByTestId('step')).toHaveText(String(total));
  await expect(page.getByTestId('state')).toHaveText('idle');
}
