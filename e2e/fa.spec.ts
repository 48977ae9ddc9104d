// Factor analysis in the app (issue 15 item 1): exact EM in ticks on the page's
// backend equals the library's fitFa of the same iterations (computed here in
// Node on the CPU backend), ψ is drawn, the Heywood count shown, and the model
// file is the CLI's: `latentgpu eval` of it gives the page's test figure.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeSafetensors } from '../src/io/safetensors.ts';
import { syntheticRunData } from '../src/lib/runData.ts';
import { CpuBackend } from '../src/cpu/backend.ts';
import { faMeanLogLik, fitFa } from '../src/models/fa/fa.ts';
import { uploadData } from '../src/models/ppca/model.ts';
import { latentgpu } from './cli.ts';
import { SYNTHETIC, canvasContrast, curves, expect, screenshot, setValue, setupSynthetic, stepTwice, test } from './fixtures.ts';

const SYNTHETIC_CLI = ['--data', 'synthetic', '--n', '500', '--dim', '16', '--true-latent', '2', '--sigma', '0.3', '--data-seed', '1'];

for (const backend of ['webgpu', 'cpu'] as const) {
  test(`factor analysis on ${backend}: 10 EM iterations in two ticks equal fitFa's; ψ and Heywood count shown; the CLI evaluates its file, it loads back, and a CLI-trained file loads`, async ({ page }) => {
    const data = syntheticRunData(SYNTHETIC);
    const ref = await fitFa(new CpuBackend(), uploadData(new CpuBackend(), data.train), { d: 2, maxIters: 10, seed: 1 });
    const refTest = faMeanLogLik(ref.model, { host: data.test.x, n: data.test.n, D: data.test.D });

    await setupSynthetic(page, backend, 'fa');
    await setValue(page, 'steps-per-tick', '5');
    await stepTwice(page, 10);
    const c = await curves(page);
    const train = c.train.at(-1)![1];
    const held = c.test.at(-1)![1];
    console.log(`fa on ${backend}: train ${train} (fitFa ${ref.loglik}), test ${held} (${refTest})`);
    expect(Math.abs(train - ref.loglik), `train ${train} vs fitFa ${ref.loglik}`).toBeLessThan(1e-3);
    expect(Math.abs(held - refTest), `test ${held} vs ${refTest}`).toBeLessThan(1e-3);
    expect(c.train.map((p) => p[0]), 'a point per EM iteration').toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    // device-product and float64 figures alternate on the curve: equal to ~1e-5
    for (let i = 1; i < c.train.length; i++) expect(c.train[i]![1]).toBeGreaterThanOrEqual(c.train[i - 1]![1] - 1e-4);
    const psi = await canvasContrast(page, 'psi');
    expect(psi.distinct, 'ψ: distinct grey levels').toBeGreaterThan(3);
    const heywood = page.getByTestId('run-figures').locator('tr[data-figure^="ψ at the floor"] td').nth(1);
    await expect(heywood).toHaveText(String(ref.heywood.length));
    for (const id of ['reconstructions', 'samples', 'loadings']) expect((await canvasContrast(page, id)).distinct, id).toBeGreaterThan(5);
    await screenshot(page, `fa-${backend}`);

    const downloadPromise = page.waitForEvent('download');
    await page.locator('#btn-download').click();
    const path = await (await downloadPromise).path();
    const cliEval = await latentgpu(['eval', '--model', path, ...SYNTHETIC_CLI]);
    expect([cliEval.model, cliEval.n]).toEqual(['fa', 100]);
    // the file stores float32 parameters: the same figure to float32 rounding
    expect(cliEval.loglik as number, 'CLI eval of the page\'s fa file').toBeCloseTo(held, 3);

    // the file loads back into the page with the same test figure, and a CLI-trained fa file loads too
    await page.locator('#btn-reset').click();
    await page.getByTestId('model-file').setInputFiles(path);
    await expect(page.getByTestId('model-status')).toContainText('loaded');
    expect((await curves(page)).test[0]![1], 'test figure after loading the page\'s file').toBeCloseTo(held, 3);
    const out = join(mkdtempSync(join(tmpdir(), 'latentgpu-e2e-')), 'fa-cli.safetensors');
    const cliTrain = await latentgpu(['train', '--model', 'fa', '--latent', '2', '--iters', '15', ...SYNTHETIC_CLI, '--out', out]);
    await page.getByTestId('model-file').setInputFiles(out);
    await expect(page.getByTestId('model-status')).toContainText('loaded fa-cli.safetensors');
    await expect(page.locator('#model')).toHaveValue('fa');
    expect((await curves(page)).test[0]![1], 'page\'s test figure of the CLI\'s fa file').toBeCloseTo(cliTrain.test_loglik as number, 3);
  });
}

test('factor analysis by SQUAREM and by stochastic EM on WebGPU: the objective climbs past 10 plain EM iterations\' and the file names the method', async ({ page }) => {
  const data = syntheticRunData(SYNTHETIC);
  const plain = await fitFa(new CpuBackend(), uploadData(new CpuBackend(), data.train), { d: 2, maxIters: 10, seed: 1 });
  for (const method of ['squarem', 'sem'] as const) {
    await setupSynthetic(page, 'webgpu', 'fa');
    await page.locator('#fa-method').selectOption(method);
    await setValue(page, 'batch', '100');
    await setValue(page, 'steps-per-tick', method === 'sem' ? '20' : '6');
    // SQUAREM spends its EM maps in cycles of three (at most the tick's 6)
    for (let t = 0; t < 2; t++) {
      await page.locator('#btn-step').click();
      await expect(page.getByTestId('state')).toHaveText('idle');
    }
    const steps = Number(await page.getByTestId('step').textContent());
    if (method === 'sem') expect(steps).toBe(40);
    else expect(steps).toBe(12);
    const c = await curves(page);
    const last = c.train.at(-1)![1];
    console.log(`fa ${method}: train ${c.train.map((p) => p[1].toFixed(4)).join(' → ')}; plain EM after 10: ${plain.loglik}`);
    expect(last, `${method} after its steps vs plain EM after 10`).toBeGreaterThan(plain.loglik - (method === 'sem' ? 0.05 : 0));
    expect(Number.isFinite(c.test.at(-1)![1])).toBe(true);
    await expect(page.locator('#st-unit-label')).toHaveText(method === 'sem' ? 'stochastic EM step' : 'EM iteration');
    const downloadPromise = page.waitForEvent('download');
    await page.locator('#btn-download').click();
    const bytes = readFileSync(await (await downloadPromise).path());
    expect(decodeSafetensors(new Uint8Array(bytes)).metadata.method).toBe(method);
  }
  await screenshot(page, 'fa-sem');
});
