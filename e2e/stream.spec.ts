// A large user file in the app (issue 14 item 4, the browser part): a .npy over
// the page's stream size is never read whole; stochastic EM and the VAE read its
// training rows a slice at a time (blobSource; PpcaStream, the Trainer's chunk
// stream) and their figures equal the library's runs on the same file computed
// here in Node. Models that need every row in memory say so.
import { readFileSync } from 'node:fs';
import { CpuBackend } from '../src/cpu/backend.ts';
import { decodeMnistAll } from '../src/data/mnist.ts';
import { encodeNpy } from '../src/data/npy.ts';
import { streamDataBlob } from '../src/lib/runData.ts';
import { createRun } from '../src/lib/runs.ts';
import { curves, expect, openApp, screenshot, setValue, stepTwice, test } from './fixtures.ts';

test('a 31 MB .npy over an 8 MiB stream size trains by stochastic EM and the VAE in slices; figures equal the library\'s; exact EM is refused', async ({ page }) => {
  const all = decodeMnistAll(new Uint8Array(readFileSync('data/mnist-10k.bin')));
  const npy = encodeNpy(all.x, all.n, all.D);
  const cfg = { kind: 'ppca-sem' as const, latent: 5, seed: 1, batch: 100, stepsPerTick: 20, semLr: 0.0001, semTau: 100, semKappa: 0.7 };
  const ref = await streamDataBlob(new Blob([npy.slice()]), 'mnist.npy');
  const run = await createRun(new CpuBackend(), cfg, ref.train, ref.test, { trainSource: ref.source, optimum: async () => undefined });
  const refTicks = [(await run.tick()).trainObjective!, (await run.tick()).trainObjective!];
  const refTest = (await run.evaluate()).test;
  run.dispose();
  const vaeCfg = { kind: 'vae' as const, latent: 2, hidden: [32], seed: 1, batch: 100, stepsPerTick: 20, lr: 0.003 };
  const vae = await createRun(new CpuBackend(), vaeCfg, ref.train, ref.test, { trainSource: ref.source });
  const vaeTicks = [(await vae.tick()).trainObjective!, (await vae.tick()).trainObjective!];
  vae.dispose();

  await openApp(page, { backend: 'webgpu' });
  await page.locator('#dataset').selectOption('file');
  await setValue(page, 'stream-mib', '8');
  await page.getByTestId('data-file').setInputFiles({ name: 'mnist.npy', mimeType: 'application/octet-stream', buffer: Buffer.from(npy) });
  await expect(page.getByTestId('data-status')).toContainText('10,000 rows, D = 784, read in slices while training');
  await expect(page.getByTestId('data-status')).toContainText('2000 train and 2000 test rows sampled');

  // exact EM needs every row in memory
  await page.locator('#model').selectOption('ppca-em');
  await page.locator('#btn-start').click();
  await expect(page.getByTestId('run-error')).toContainText('only PPCA by stochastic or online EM and the VAE train on it');

  await page.locator('#model').selectOption('ppca-sem');
  await setValue(page, 'latent', '5');
  await setValue(page, 'batch', '100');
  await setValue(page, 'sem-lr', '0.0001');
  await setValue(page, 'sem-tau', '100');
  await setValue(page, 'sem-kappa', '0.7');
  await setValue(page, 'steps-per-tick', '20');
  await stepTwice(page, 40);
  const c = await curves(page);
  const train = c.train.slice(-2).map((p) => p[1]);
  console.log(`streamed sem: train ${train.join(' → ')} (library ${refTicks.join(' → ')}), test ${c.test.at(-1)![1]} (${refTest})`);
  for (const [i, y] of train.entries()) expect(Math.abs(y - refTicks[i]!), `tick ${i + 1}: ${y} vs library ${refTicks[i]}`).toBeLessThan(2e-3);
  expect(Math.abs(c.test.at(-1)![1] - refTest), 'test figure on the sampled test rows').toBeLessThan(2e-3);
  expect(train[1]!).toBeGreaterThan(train[0]!);
  await screenshot(page, 'stream-npy-sem');

  // the VAE streams the same rows: its first ticks' objectives are the library's
  await page.locator('#btn-reset').click();
  await page.locator('#model').selectOption('vae');
  await setValue(page, 'latent', '2');
  await setValue(page, 'hidden', '32');
  await setValue(page, 'lr', '0.003');
  await setValue(page, 'batch', '100');
  await setValue(page, 'steps-per-tick', '20');
  await stepTwice(page, 40);
  const v = (await curves(page)).train.slice(-2).map((p) => p[1]);
  console.log(`streamed VAE: train ${v.join(' → ')} (library ${vaeTicks.join(' → ')})`);
  for (const [i, y] of v.entries()) expect(Math.abs(y - vaeTicks[i]!) / Math.abs(vaeTicks[i]!), `VAE tick ${i + 1}: ${y} vs library ${vaeTicks[i]}`).toBeLessThan(2e-3);
  await screenshot(page, 'stream-npy-vae');
});
