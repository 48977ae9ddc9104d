// PPCA on small synthetic data in the browser on WebGPU: exact EM reaches the
// closed-form optimum, the estimator panel orders the estimates as the theory
// says, and a downloaded model file loads back with the same log-likelihood.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from '@playwright/test';
import { latentgpu } from './cli.ts';
import { canvasContrast, curves, expect, openApp, screenshot, setValue, test } from './fixtures.ts';

export async function setupPpca(page: Page): Promise<void> {
  await openApp(page, { backend: 'webgpu' });
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

/** The synthetic data of setupPpca, as CLI options (src/cli/program.ts). */
const SYNTHETIC_CLI = ['--data', 'synthetic', '--n', '500', '--dim', '16', '--true-latent', '2', '--sigma', '0.3', '--data-seed', '1'];

test('download then upload of a model round-trips, and the file is the CLI\'s PPCA model file both ways', async ({ page }) => {
  await setupPpca(page);
  await setValue(page, 'steps-per-tick', '5');
  await page.locator('#btn-step').click();
  await page.locator('#btn-step').click();
  await expect(page.getByTestId('step')).toHaveText('10');
  // the step counter moves before the refresh that measures the test objective: wait for the step to end
  await expect(page.getByTestId('state')).toHaveText('idle');
  const test0 = await num(page, 'test-objective');
  const downloadPromise = page.waitForEvent('download');
  await page.locator('#btn-download').click();
  const download = await downloadPromise;
  expect(download.suggestedFilename()).toMatch(/\.safetensors$/);
  const path = await download.path();
  const bytes = readFileSync(path);
  expect(bytes.length).toBeGreaterThan(16 * 2 * 4);
  // the CLI evaluates the app's file on the same data (regenerated from the file's synthetic_data metadata)
  const exactTest = (await curves(page)).test.at(-1)![1];
  const cliEval = await latentgpu(['eval', '--model', path, '--data', 'synthetic', '--estimator', 'exact']);
  expect(cliEval.model).toBe('ppca');
  expect(cliEval.n, 'test rows the CLI evaluated').toBe(100);
  expect(cliEval.exact_loglik as number, 'CLI eval of the app\'s file vs the app\'s test log-likelihood').toBeCloseTo(exactTest, 3);

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

  // a model trained by the CLI loads here with the CLI's test log-likelihood
  const out = join(mkdtempSync(join(tmpdir(), 'latentgpu-e2e-')), 'ppca-cli.safetensors');
  const cliTrain = await latentgpu(['train', '--model', 'ppca', '--latent', '2', '--iters', '20', ...SYNTHETIC_CLI, '--out', out]);
  await page.getByTestId('model-file').setInputFiles(out);
  await expect(page.getByTestId('model-status')).toContainText('loaded ppca-cli.safetensors');
  await expect(page.getByTestId('model-error')).toBeHidden();
  expect((await curves(page)).test[0]![1], 'app test log-likelihood of the CLI\'s file').toBeCloseTo(cliTrain.test_loglik as number, 3);
  await screenshot(page, 'model-from-cli');
});

test('a device lost mid-training shows a notice, and training continues on the CPU from the last parameters', async ({ page }) => {
  await setupPpca(page);
  // stochastic EM runs until paused, so the device is lost with work in flight
  await page.locator('#model').selectOption('ppca-sem');
  await setValue(page, 'steps-per-tick', '5');
  await page.locator('#btn-start').click();
  await expect.poll(async () => (await curves(page)).test.length, { timeout: 60_000 }).toBeGreaterThanOrEqual(3);
  await page.evaluate(() => (window as unknown as { latentgpu: { loseDevice(): void } }).latentgpu.loseDevice());
  const lost = page.getByTestId('lost-notice');
  await expect(lost).toBeVisible({ timeout: 15_000 });
  await expect(lost).toContainText('device was lost');
  await expect(page.getByTestId('state')).toHaveText('failed');
  await expect(page.getByTestId('run-error'), 'the notice, not a read-back error').toBeHidden();
  const kept = Number(await lost.getAttribute('data-test-objective'));
  expect(Number.isFinite(kept), `test objective of the kept parameters: ${kept}`).toBe(true);
  await screenshot(page, 'device-lost');

  await page.locator('#lost-continue').click();
  await expect(page.getByTestId('model-status')).toContainText('continued on the CPU from the last parameters');
  await expect(page.getByTestId('adapter')).toContainText('CPU backend');
  await expect(lost).toBeHidden();
  const restored = (await curves(page)).test[0]![1];
  expect(restored, 'test log-likelihood of the restored parameters').toBeCloseTo(kept, 3);
  await page.locator('#btn-step').click();
  await expect(page.getByTestId('step')).toHaveText('5');
  await expect(page.getByTestId('state')).toHaveText('idle');
  // the step-size schedule resumes at the kept step (α small by then), not at α₀: no setback
  const train = (await curves(page)).train;
  console.log(`after continuing: train ${train[0]![1]} → ${train.at(-1)![1]} over 5 steps`);
  expect(train.at(-1)![1], 'train log-likelihood 5 steps after continuing').toBeGreaterThan(train[0]![1] - 0.03);
  await screenshot(page, 'device-lost-continued');
});

test('PPCA online EM trains until pause and its objective approaches the closed-form optimum', async ({ page }) => {
  await setupPpca(page);
  await page.locator('#model').selectOption('ppca-oem');
  await setValue(page, 'batch', '100');
  await setValue(page, 'steps-per-tick', '10');
  await page.locator('#btn-start').click();
  await expect(page.getByTestId('state')).toHaveText('running');
  const optimum = await num(page, 'optimum');
  expect(Number.isFinite(optimum)).toBe(true);
  const gap = async (): Promise<number> => optimum - (await curves(page)).train.at(-1)![1];
  await expect.poll(gap, { timeout: 60_000, message: 'gap to the closed-form optimum' }).toBeLessThan(0.05);
  await page.locator('#btn-pause').click();
  await expect(page.getByTestId('state')).toHaveText('paused');
  const c = await curves(page);
  const first = c.train[0]![1];
  const last = c.train.at(-1)![1];
  console.log(`online EM: ${c.train.at(-1)![0]} steps, train ${first} → ${last}, closed form ${optimum}`);
  // it started far below the optimum and never overshoots it by more than float noise
  expect(optimum - first, 'starting gap').toBeGreaterThan(0.5);
  expect(last, 'train log-likelihood ≤ the maximum').toBeLessThanOrEqual(optimum + 1e-4);
  await screenshot(page, 'ppca-online-em');
});
