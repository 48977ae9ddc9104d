// PPCA with missing values in the app (issue 15 item 2): MNIST with 30% of the
// pixels hidden at random trains by EM over the observed entries (its sums on
// the page's backend, WebGPU here); the page's observed-data log-likelihood
// and imputation RMSE equal the host float64 library fit's on the same hidden
// pixels (computed here in Node), and the model's imputation beats the column
// means. A user's CSV with empty cells is refused
// by the other models with a clear message and fits with this one. Factor
// analysis with missing values (fitFaMissingOn) likewise.
import { readFileSync } from 'node:fs';
import { decodeMnist } from '../src/data/mnist.ts';
import { subsetRows } from '../src/data/dataset.ts';
import { hideAtRandom, imputationRmse } from '../src/lib/runData.ts';
import { CpuBackend } from '../src/cpu/backend.ts';
import { fitFaMissingOn } from '../src/models/fa/missingOn.ts';
import { fitPpcaMissing, imputeMissing, missingMeanLogLik } from '../src/models/ppca/missing.ts';
import { canvasContrast, curves, expect, hook, screenshot, setValue, setupMnist, setupSynthetic, shown, stepTwice, test } from './fixtures.ts';

test('MNIST with 30% of pixels hidden: observed-data log-likelihood and imputation RMSE equal the library\'s; the model beats the column means', async ({ page }) => {
  const { train, test: all } = decodeMnist(new Uint8Array(readFileSync('data/mnist-10k.bin')), { subset: 500 });
  const hidden = hideAtRandom({ train, test: subsetRows(all, 200), unitRange: true, metadata: {} }, 0.3, 1);
  const ref = fitPpcaMissing({ x: hidden.train.x, n: 500, D: 784 }, 5, { iters: 4, tol: 0, seed: 1 });
  const refTest = missingMeanLogLik(ref, { x: hidden.test.x, n: 200, D: 784 });
  const refRmse = imputationRmse(hidden.complete.test.x, hidden.test.x, imputeMissing(ref, { x: hidden.test.x, n: 200, D: 784 }));

  await setupMnist(page, 'webgpu', 'ppca-missing', { train: 500, test: 200, latent: 5 });
  await setValue(page, 'hide-pct', '30');
  await setValue(page, 'hide-seed', '1');
  await setValue(page, 'steps-per-tick', '2');
  await stepTwice(page, 4);
  await expect(page.getByTestId('data-status')).toContainText('30% of entries hidden');
  const c = await curves(page);
  const trainLl = c.train.at(-1)![1];
  const testLl = c.test.at(-1)![1];
  const imp = await hook<{ model: number; mean: number; entries: number }>(page, 'imputation');
  console.log(`missing 30%: train ${trainLl} (library ${ref.loglik}), test ${testLl} (${refTest}); RMSE model ${imp.model} (library ${refRmse.rmse}), column means ${imp.mean}, ${imp.entries} hidden test pixels`);
  expect(Math.abs(trainLl - ref.loglik), 'observed-data log-likelihood per row').toBeLessThan(1e-3);
  expect(Math.abs(testLl - refTest), 'held-out observed-data log-likelihood').toBeLessThan(1e-3);
  expect(imp.entries).toBe(refRmse.entries);
  expect(Math.abs(imp.model - refRmse.rmse)).toBeLessThan(1e-4);
  expect(imp.model, 'the model imputes better than the column means').toBeLessThan(imp.mean);
  expect(await shown(page, 'rmse-model')).toBeCloseTo(imp.model, 4);
  for (const id of ['complete', 'holes', 'imputed', 'mean-imputed']) expect((await canvasContrast(page, id)).distinct, id).toBeGreaterThan(5);
  await screenshot(page, 'ppca-missing-mnist');
});

test('a CSV with empty cells: other models refuse it naming the model to use; PPCA with missing values fits it', async ({ page }) => {
  await setupSynthetic(page, 'cpu', 'ppca-em');
  // 40 rows of 4 columns, one entry in ten empty
  const rows = Array.from({ length: 40 }, (_, i) => Array.from({ length: 4 }, (_, j) => ((i * 4 + j) % 10 === 3 ? '' : String(Math.sin(i + 2 * j) + j))).join(','));
  await page.locator('#dataset').selectOption('file');
  await page.getByTestId('data-file').setInputFiles({ name: 'holes.csv', mimeType: 'text/csv', buffer: Buffer.from(rows.join('\n')) });
  await expect(page.getByTestId('data-status')).toContainText('16 missing entries');
  await page.locator('#btn-start').click();
  await expect(page.getByTestId('run-error')).toContainText('16 entries are missing');
  await expect(page.getByTestId('run-error')).toContainText('PPCA — missing values');

  await page.locator('#model').selectOption('ppca-missing');
  await setValue(page, 'latent', '1');
  await setValue(page, 'hide-pct', '0');
  await page.locator('#btn-step').click();
  await expect(page.getByTestId('step')).toHaveText('1');
  await expect(page.getByTestId('state')).toHaveText('idle');
  await expect(page.getByTestId('run-error')).toBeHidden();
  const c = await curves(page);
  expect(Number.isFinite(c.train.at(-1)![1]) && Number.isFinite(c.test.at(-1)![1])).toBe(true);
  // nothing was hidden by the page, so nothing to score: the imputations are drawn, the RMSE is not
  await expect(page.getByTestId('rmse-model')).toHaveText('–');
  expect((await canvasContrast(page, 'imputed')).width).toBeGreaterThan(1);
  await screenshot(page, 'ppca-missing-csv');
});

test('factor analysis with 30% of MNIST pixels hidden: the library\'s observed-data log-likelihood; the imputation beats the column means', async ({ page }) => {
  const { train, test: all } = decodeMnist(new Uint8Array(readFileSync('data/mnist-10k.bin')), { subset: 500 });
  const hidden = hideAtRandom({ train, test: subsetRows(all, 200), unitRange: true, metadata: {} }, 0.3, 1);
  const ref = await fitFaMissingOn(new CpuBackend(), { x: hidden.train.x, n: 500, D: 784 }, 5, { iters: 4, tol: 1e-300, seed: 1 });

  await setupMnist(page, 'webgpu', 'fa-missing', { train: 500, test: 200, latent: 5 });
  await setValue(page, 'hide-pct', '30');
  await setValue(page, 'hide-seed', '1');
  await setValue(page, 'steps-per-tick', '2');
  await stepTwice(page, 4);
  const c = await curves(page);
  const imp = await hook<{ model: number; mean: number; entries: number }>(page, 'imputation');
  console.log(`fa missing 30%: train ${c.train.map((p) => p[1].toFixed(3)).join(' → ')} (library ${ref.loglik}); RMSE model ${imp.model}, column means ${imp.mean}`);
  expect(c.train.map((p) => p[0])).toEqual([0, 1, 2, 3, 4]);
  expect(Math.abs(c.train.at(-1)![1] - ref.loglik), 'observed-data log-likelihood per row').toBeLessThan(1e-3);
  expect(imp.model, 'the model imputes better than the column means').toBeLessThan(imp.mean);
  expect((await canvasContrast(page, 'psi')).distinct, 'ψ drawn').toBeGreaterThan(3);
  await screenshot(page, 'fa-missing-mnist');
});
