// Mixtures of PPCA in the app (issue 15 item 3): EM on MNIST in ticks on the
// page's backend reports each iterate's log-likelihood as the library's
// fitMppca does (computed here in Node on the CPU backend), draws the component
// means, and shows the cluster purity of the test rows against their digits.
import { readFileSync } from 'node:fs';
import { CpuBackend } from '../src/cpu/backend.ts';
import { subsetRows } from '../src/data/dataset.ts';
import { decodeMnist } from '../src/data/mnist.ts';
import { clusterPurity, evaluateMppca, fitMppca } from '../src/models/mppca/mppca.ts';
import { uploadData } from '../src/models/ppca/model.ts';
import { canvasContrast, curves, expect, screenshot, setValue, setupMnist, stepTwice, test } from './fixtures.ts';

for (const backend of ['webgpu', 'cpu'] as const) {
  test(`mixture of PPCA on MNIST on ${backend}: 4 EM iterations equal fitMppca's, component means drawn, test purity shown`, async ({ page }) => {
    const cpu = new CpuBackend();
    const { train, test: all } = decodeMnist(new Uint8Array(readFileSync('data/mnist-10k.bin')), { subset: 500 });
    const held = subsetRows(all, 200);
    const ref = await fitMppca(cpu, uploadData(cpu, train), { K: 3, d: 5, seed: 1, maxIters: 4 });
    const refEval = await evaluateMppca(cpu, uploadData(cpu, held), ref.model);
    const refPurity = clusterPurity(refEval.assign, held.labels!);

    await setupMnist(page, backend, 'mppca', { train: 500, test: 200, latent: 5 });
    await setValue(page, 'components', '3');
    await setValue(page, 'steps-per-tick', '2');
    await stepTwice(page, 4);
    const c = await curves(page);
    // iterates 0..3 from the ticks' E-steps, iterate 4 from the refresh after the last tick
    expect(c.train.map((p) => p[0])).toEqual([0, 1, 2, 3, 4]);
    for (const [i, [, y]] of c.train.entries()) {
      expect(Math.abs(y - ref.trace[i]!.loglik), `iterate ${i}: ${y} vs fitMppca ${ref.trace[i]!.loglik}`).toBeLessThan(2e-3);
    }
    expect(Math.abs(c.test.at(-1)![1] - refEval.loglik), 'test log-likelihood').toBeLessThan(2e-3);
    const purity = Number(await page.getByTestId('run-figures').locator('tr[data-figure="cluster purity (test rows)"] td').nth(1).textContent());
    console.log(`mppca on ${backend}: train ${c.train.map((p) => p[1].toFixed(3)).join(' → ')}; test ${c.test.at(-1)![1]} (${refEval.loglik}); purity ${purity} (${refPurity})`);
    expect(Math.abs(purity - refPurity), 'cluster purity of the test rows').toBeLessThan(0.02);
    expect(purity, 'better than the largest digit class alone').toBeGreaterThan(0.2);
    const comp = await canvasContrast(page, 'components');
    expect(comp.distinct, 'component means: distinct grey levels').toBeGreaterThan(5);
    await expect(page.locator('#cap-components')).toContainText('π = ');
    await screenshot(page, `mppca-${backend}`);
  });
}
