// Choosing d in the app (issue 15 item 4): the PPCA sweep (one eigendecomposition,
// in a Web Worker) and the FA sweep (an EM fit per d on the page's backend) show
// held-out log-likelihood, BIC and (PPCA) Minka's evidence against d with the
// chosen d marked, equal to the library's sweep on the same data computed here
// in Node, and download as JSON. The data have true d = 2.
import { readFileSync } from 'node:fs';
import { CpuBackend } from '../src/cpu/backend.ts';
import { syntheticRunData } from '../src/lib/runData.ts';
import { faSweep } from '../src/models/fa/sweep.ts';
import { ppcaSweep } from '../src/models/ppca/sweep.ts';
import { SYNTHETIC, expect, hook, screenshot, setValue, setupSynthetic, test } from './fixtures.ts';

interface Row { d: number; train_loglik: number; test_loglik: number; bic: number; minka?: number }
interface Sweep { model: string; rows: Row[]; chosen: Record<string, number> }

const data = syntheticRunData(SYNTHETIC);
const host = (ds: typeof data.train) => ({ name: ds.name, host: ds.x, n: ds.n, D: ds.D });

async function sweep(page: import('@playwright/test').Page, model: 'ppca' | 'fa', from: number, to: number, iters = 200): Promise<Sweep> {
  await page.locator('#sweep-model').selectOption(model);
  await setValue(page, 'sweep-from', String(from));
  await setValue(page, 'sweep-to', String(to));
  await setValue(page, 'sweep-iters', String(iters));
  await page.locator('#btn-sweep').click();
  await expect(page.getByTestId('sweep-status')).toContainText('chosen d', { timeout: 120_000 });
  return (await hook<Sweep>(page, 'sweep'))!;
}

test('PPCA sweep d = 1..6: the library\'s figures, every criterion chooses the true d = 2, the JSON downloads', async ({ page }) => {
  const ref = ppcaSweep(host(data.train), host(data.test), 1, 6);
  await setupSynthetic(page, 'webgpu', 'ppca-em');
  const s = await sweep(page, 'ppca', 1, 6);
  expect(s.rows.map((r) => r.d)).toEqual([1, 2, 3, 4, 5, 6]);
  for (const [i, r] of s.rows.entries()) {
    const e = ref.rows[i]!;
    for (const k of ['train_loglik', 'test_loglik', 'bic', 'minka'] as const) expect(r[k], `d = ${r.d}: ${k}`).toBeCloseTo(e[k], 9);
  }
  expect(s.chosen).toEqual({ test_loglik: 2, bic: 2, minka: 2 });
  await expect(page.getByTestId('sweep-status')).toHaveText('chosen d: held-out ℓ 2, BIC 2, Minka 2');
  await expect(page.getByTestId('sweep-table').locator('tbody tr')).toHaveCount(6);
  // the chart: one series per criterion, each naming the d it chooses (drawn as a large point)
  expect(await hook<string[]>(page, 'sweepLegend')).toEqual(['held-out ℓ (chooses d = 2)', '−BIC / 2n (chooses d = 2)', 'Minka log evidence / n (chooses d = 2)']);
  await screenshot(page, 'sweep-ppca');

  const downloadPromise = page.waitForEvent('download');
  await page.locator('#btn-sweep-json').click();
  const download = await downloadPromise;
  expect(download.suggestedFilename()).toBe('latentgpu-sweep-ppca-d1-6.json');
  const json = JSON.parse(readFileSync(await download.path(), 'utf8')) as Sweep & { eigenvalues: number[] };
  expect(json.model).toBe('ppca');
  expect(json.chosen).toEqual(s.chosen);
  expect(json.eigenvalues).toHaveLength(16);
  expect(json.eigenvalues[0]).toBeCloseTo(ref.eigenvalues[0]!, 9);
});

test('FA sweep d = 1..3 on WebGPU: each fit equals the library\'s sweep on the CPU backend; held-out ℓ and BIC choose d = 2', async ({ page }) => {
  const ref = await faSweep(new CpuBackend(), data.train, data.test, 1, 3, { maxIters: 60, seed: 1 });
  await setupSynthetic(page, 'webgpu', 'fa');
  const s = await sweep(page, 'fa', 1, 3, 60);
  for (const [i, r] of s.rows.entries()) {
    const e = ref.rows[i]!;
    expect(Math.abs(r.test_loglik - e.test_loglik), `d = ${r.d}: held-out ℓ ${r.test_loglik} vs ${e.test_loglik}`).toBeLessThan(1e-3);
    expect(Math.abs(r.bic - e.bic) / data.train.n, `d = ${r.d}: BIC per row`).toBeLessThan(2e-3);
    expect(r.minka).toBeUndefined();
  }
  expect(s.chosen).toEqual({ test_loglik: 2, bic: 2 });
  await expect(page.getByTestId('sweep-status')).toHaveText('chosen d: held-out ℓ 2, BIC 2');
  await screenshot(page, 'sweep-fa');
});
