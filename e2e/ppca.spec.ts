// PPCA on small synthetic data in the browser on WebGPU: exact EM reaches the
// closed-form optimum, the estimator panel orders the estimates as the theory
// says, and a downloaded model file loads back with the same log-likelihood.
import { readFileSync } from 'node:fs';
import type { Page } from '@playwright/test';
import { canvasContrast, expect, openApp, screenshot, setValue, test } from './fixtures.ts';

export async function setupPpca(page: Page): Promise<void> {
  await openApp(page);
  await page.locator('#dataset').selectOption('synthetic');
  await setValue(page, 'syn-D', '16');
  await setValue(page, 'syn-d', '2');
  await setValue(page, 'syn-n', '500');
  await setValue(page, 'syn-sigma', '0.3');
  await page.locator('#model').selectOption('ppca-em');
  await setValue(page, 'latent', '2');
  await setValue(page, 'steps-per-tick', '1');
}

async function num(page: Page, testId: string): Promise<number> {
  return Number(await page.getByTestId(testId).textContent());
}

async function estimates(page: Page): Promise<Record<string, number>> {
  const rows = page.getByTestId('estimators').locator('tbody tr');
  await expect(rows).not.toHaveCount(0);
  const out: Record<string, number> = {};
  for (const tr of await rows.all()) {
    const name = (await tr.getAttribute('data-estimator'))!;
    out[name.replace(/ \(.*\)$/, '')] = Number(await tr.locator('td').nth(1).getAttribute('data-value'));
  }
  return out;
}

test('PPCA exact EM on synthetic data reaches the closed-form optimum; estimators: exact ≥ ELBO ≥ Jensen', async ({ page }) => {
  await setupPpca(page);
  await page.locator('#btn-start').click();
  await expect(page.getByTestId('state')).toHaveText('converged', { timeout: 120_000 });
  const optimum = await num(page, 'optimum');
  const train = await num(page, 'train-objective');
  expect(Number.isFinite(optimum)).toBe(true);
  expect(Math.abs(train - optimum), `train ${train} vs closed form ${optimum}`).toBeLessThan(1e-3);
  expect(Number.isFinite(await num(page, 'test-objective'))).toBe(true);
  for (const id of ['originals', 'reconstructions', 'samples', 'manifold', 'loadings']) {
    const s = await canvasContrast(page, id);
    expect(s.distinct, `${id}: distinct grey levels`).toBeGreaterThan(5);
    expect(s.spread, `${id}: grey-level spread`).toBeGreaterThan(100);
  }
  await screenshot(page, 'ppca-em-converged');

  await setValue(page, 'est-k', '200');
  await setValue(page, 'est-rows', '100');
  await page.locator('#btn-estimate').click();
  await expect(page.getByTestId('model-status')).toContainText('estimators on 100 test rows');
  const e = await estimates(page);
  const exact = e['exact']!;
  const elboPost = e['ELBO, exact posterior q']!;
  const elboMf = e['ELBO, mean-field q']!;
  const jensen = e['prior Jensen']!;
  const iwae = e['IWAE']!;
  // with q the exact posterior the ELBO equals log p(x) in expectation and IWAE's weights are all p(x)
  expect(Math.abs(elboPost - exact), `ELBO(posterior) ${elboPost} vs exact ${exact}`).toBeLessThan(0.05);
  expect(Math.abs(iwae - exact), `IWAE ${iwae} vs exact ${exact}`).toBeLessThan(1e-3);
  // a mean-field q loses KL(q ‖ posterior) ≥ 0; a little MC noise allowed
  expect(elboMf, `ELBO(mean-field) ${elboMf} ≤ exact ${exact}`).toBeLessThanOrEqual(exact + 0.02);
  // the prior Jensen bound is far below both
  expect(jensen, `Jensen ${jensen} < ELBO ${elboMf}`).toBeLessThan(elboMf - 1);
  await screenshot(page, 'ppca-estimators');
});

test('download then upload of a model round-trips', async ({ page }) => {
  await setupPpca(page);
  await setValue(page, 'steps-per-tick', '5');
  await page.locator('#btn-step').click();
  await page.locator('#btn-step').click();
  await expect(page.getByTestId('step')).toHaveText('10');
  const test0 = await num(page, 'test-objective');
  const downloadPromise = page.waitForEvent('download');
  await page.locator('#btn-download').click();
  const download = await downloadPromise;
  expect(download.suggestedFilename()).toMatch(/\.safetensors$/);
  const path = await download.path();
  const bytes = readFileSync(path);
  expect(bytes.length).toBeGreaterThan(16 * 2 * 4);

  await page.locator('#btn-reset').click();
  await expect(page.getByTestId('test-objective')).toHaveText('–');
  await page.getByTestId('model-file').setInputFiles({ name: 'ppca.safetensors', mimeType: 'application/octet-stream', buffer: bytes });
  await expect(page.getByTestId('model-status')).toContainText('loaded ppca.safetensors');
  expect(await num(page, 'test-objective'), 'test log-likelihood after loading').toBeCloseTo(test0, 4);
  await expect(page.getByTestId('step')).toHaveText('0');
  // training continues from the loaded parameters
  await page.locator('#btn-step').click();
  await expect(page.getByTestId('step')).toHaveText('5');
  await screenshot(page, 'model-roundtrip');

  // a broken file is an inline error and the loaded model stays usable
  await page.getByTestId('model-file').setInputFiles({ name: 'broken.safetensors', mimeType: 'application/octet-stream', buffer: bytes.subarray(0, 40) });
  await expect(page.getByTestId('model-error')).toContainText('broken.safetensors');
  await page.locator('#btn-step').click();
  await expect(page.getByTestId('step')).toHaveText('10');
});
