// PPCA in closed form in the app (issue 15 item 5): one tick fits the top d
// eigenpairs (closedFormPpcaOn, products on the page's backend), and the page
// shows the library's maximum log-likelihood, computed here in Node from the
// same data, on WebGPU (SwiftShader) and on the CPU backend.
import { syntheticRunData } from '../src/lib/runData.ts';
import { closedFormPpca } from '../src/models/ppca/closed.ts';
import { CpuBackend } from '../src/cpu/backend.ts';
import { createPpca, meanLogLik, uploadData } from '../src/models/ppca.ts';
import { SYNTHETIC, canvasContrast, curves, expect, screenshot, setupSynthetic, shown, test } from './fixtures.ts';

for (const backend of ['webgpu', 'cpu'] as const) {
  test(`PPCA closed form on ${backend}: one fit, the library's optimum on train and test, loadings drawn`, async ({ page }) => {
    const data = syntheticRunData(SYNTHETIC);
    const ref = closedFormPpca({ host: data.train.x, n: data.train.n, D: data.train.D }, 2);
    const cpu = new CpuBackend();
    const refTest = await meanLogLik(createPpca(cpu, ref), uploadData(cpu, data.test));

    await setupSynthetic(page, backend, 'ppca-closed');
    await page.locator('#btn-start').click();
    await expect(page.getByTestId('state')).toHaveText('converged', { timeout: 60_000 });
    await expect(page.getByTestId('step')).toHaveText('1');
    const c = await curves(page);
    const train = c.train.at(-1)![1];
    console.log(`closed form on ${backend}: train ${train} (library ${ref.loglik}), test ${c.test.at(-1)![1]} (library ${refTest})`);
    expect(Math.abs(train - ref.loglik), `train ${train} vs closedFormPpca ${ref.loglik}`).toBeLessThan(1e-5);
    expect(Math.abs(c.test.at(-1)![1] - refTest), 'test log-likelihood of the fit').toBeLessThan(1e-3);
    // the optimum line (the full decomposition in a worker) is the same figure
    expect(Math.abs((await shown(page, 'optimum')) - ref.loglik)).toBeLessThan(1e-3);
    for (const id of ['reconstructions', 'samples', 'loadings']) {
      const s = await canvasContrast(page, id);
      expect(s.distinct, `${id}: distinct grey levels`).toBeGreaterThan(5);
    }
    await screenshot(page, `ppca-closed-${backend}`);
  });
}
