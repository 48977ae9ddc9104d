// VAE on an MNIST subset in the browser on WebGPU (SwiftShader): the objective
// improves over a few hundred steps, the pictures are drawn, pause stops
// progress and resume continues, and a downloaded model loads back.
import { canvasContrast, curves, expect, openApp, screenshot, setValue, steps, test } from './fixtures.ts';
import type { Page } from '@playwright/test';

async function setupVae(page: Page): Promise<void> {
  await openApp(page);
  await page.locator('#dataset').selectOption('mnist');
  await page.locator('#model').selectOption('vae');
  await setValue(page, 'mnist-subset', '1024');
  await setValue(page, 'mnist-test', '256');
  await setValue(page, 'latent', '2');
  await setValue(page, 'hidden', '64');
  await setValue(page, 'batch', '64');
  await setValue(page, 'lr', '0.003');
  await setValue(page, 'steps-per-tick', '10');
}

test('VAE on MNIST trains a few hundred steps, its objective improves, and the pictures are drawn', async ({ page }) => {
  await setupVae(page);
  await page.locator('#btn-start').click();
  await expect(page.getByTestId('state')).toHaveText('running');
  await expect.poll(() => steps(page), { timeout: 150_000, intervals: [1000] }).toBeGreaterThanOrEqual(300);
  await page.locator('#btn-pause').click();
  await expect(page.getByTestId('state')).toHaveText('paused');
  const c = await curves(page);
  const train = c.train.map(([, y]) => y);
  const early = train.slice(0, 3).reduce((a, b) => a + b, 0) / Math.min(3, train.length);
  const late = train.slice(-3).reduce((a, b) => a + b, 0) / Math.min(3, train.length);
  // ELBO per sample of a 784-pixel Bernoulli decoder starts near −543 (p = ½) and must rise by a wide margin
  expect(late, `train ELBO: early ${early}, late ${late}`).toBeGreaterThan(early + 50);
  const test0 = c.test[0]![1];
  const testN = c.test[c.test.length - 1]![1];
  expect(testN, `test ELBO: first ${test0}, last ${testN}`).toBeGreaterThan(test0 + 50);
  expect(Number(await page.getByTestId('rate').textContent())).toBeGreaterThan(0);
  for (const id of ['originals', 'reconstructions', 'samples', 'manifold']) {
    const s = await canvasContrast(page, id);
    expect(s.width, `${id} canvas width`).toBeGreaterThan(28);
    expect(s.distinct, `${id}: distinct grey levels`).toBeGreaterThan(20);
    expect(s.spread, `${id}: grey-level spread`).toBeGreaterThan(100);
  }
  await screenshot(page, 'vae-mnist-trained');
});

test('pause stops progress and resume continues', async ({ page }) => {
  await setupVae(page);
  await page.locator('#btn-start').click();
  await expect.poll(() => steps(page), { timeout: 60_000 }).toBeGreaterThanOrEqual(20);
  await page.locator('#btn-pause').click();
  await expect(page.getByTestId('state')).toHaveText('paused');
  const paused = await steps(page);
  await page.waitForTimeout(2500);
  expect(await steps(page), 'steps while paused').toBe(paused);
  await screenshot(page, 'paused');
  await page.locator('#btn-resume').click();
  await expect(page.getByTestId('state')).toHaveText('running');
  await expect.poll(() => steps(page), { timeout: 60_000 }).toBeGreaterThan(paused + 20);
  await page.locator('#btn-pause').click();
  await expect(page.getByTestId('state')).toHaveText('paused');
});
