// VAE on an MNIST subset in the browser on WebGPU (SwiftShader): the objective
// improves over a few hundred steps, the test curve gets a point every epoch,
// the pictures are drawn, pause stops
// progress and resume continues, and a downloaded model loads back.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeSafetensors } from '../src/io/safetensors.ts';
import { latentgpu, safetensors } from './cli.ts';
import { canvasContrast, curves, expect, openApp, screenshot, setValue, steps, test } from './fixtures.ts';
import type { Page } from '@playwright/test';

async function setupVae(page: Page): Promise<void> {
  await openApp(page, { backend: 'webgpu' });
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
  // the test curve is measured while training: a point after every epoch (1024 rows / batch 64 = 16 steps), not only where the run started and stopped
  const done = await steps(page);
  const testSteps = c.test.map(([s]) => s);
  const epochEnds = Array.from({ length: Math.floor(done / 16) + 1 }, (_, e) => 16 * e);
  expect(testSteps.filter((s) => s % 16 === 0), 'test-curve points at the epoch ends').toEqual(epochEnds);
  expect(testSteps, 'test-curve steps increase').toEqual([...testSteps].sort((x, y) => x - y));
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

test('VAE model files are the CLI\'s: a CLI-trained file loads here, the app\'s download evaluates with the CLI, bad files are inline errors', async ({ page }) => {
  const dir = mkdtempSync(join(tmpdir(), 'latentgpu-e2e-'));
  const mnist = ['--data', 'mnist', '--subset', '512', '--test-subset', '128'];
  const cliFile = join(dir, 'vae-cli.safetensors');
  const cliTrain = await latentgpu(['train', '--model', 'vae', ...mnist, '--epochs', '2', '--hidden', '64', '--latent', '2', '--batch', '64',
    '--lr', '0.003', '--samples', '10', '--run-dir', join(dir, 'run'), '--out', cliFile]);
  await openApp(page, { backend: 'webgpu' });
  await page.locator('#dataset').selectOption('mnist');
  await page.locator('#model').selectOption('vae');
  await setValue(page, 'mnist-subset', '512');
  await setValue(page, 'mnist-test', '128');
  await setValue(page, 'steps-per-tick', '10');
  await page.getByTestId('model-file').setInputFiles(cliFile);
  await expect(page.getByTestId('model-status')).toContainText('loaded vae-cli.safetensors');
  await expect(page.getByTestId('model-error')).toBeHidden();
  await expect(page.locator('#hidden')).toHaveValue('64');
  // one-sample ELBOs with different seeds: a few nats apart at most (an untrained VAE is ~250 nats lower)
  const loaded = (await curves(page)).test[0]![1];
  expect(Math.abs(loaded - (cliTrain.test_elbo as number)), `app ${loaded} vs CLI ${String(cliTrain.test_elbo)} test ELBO`).toBeLessThan(4);

  // train on here, download, evaluate with the CLI
  await page.locator('#btn-step').click();
  await page.locator('#btn-step').click();
  await expect(page.getByTestId('step')).toHaveText('20');
  // the step counter moves before the refresh that measures the test ELBO: wait for the step to end
  await expect(page.getByTestId('state')).toHaveText('idle');
  const appTest = (await curves(page)).test.at(-1)![1];
  const downloadPromise = page.waitForEvent('download');
  await page.locator('#btn-download').click();
  const path = await (await downloadPromise).path();
  const file = decodeSafetensors(readFileSync(path));
  expect(file.metadata.model).toBe('vae');
  expect(file.metadata.format).toBe('latentgpu-1');
  expect(Object.keys(file.tensors).sort()).toEqual(['adam.m', 'adam.v', 'params']);
  const cliEval = await latentgpu(['eval', '--model', path, ...mnist, '--estimator', 'elbo']);
  expect(Math.abs((cliEval.test_elbo as number) - appTest), `CLI ${String(cliEval.test_elbo)} vs app ${appTest} test ELBO`).toBeLessThan(4);
  await screenshot(page, 'vae-model-files');

  // bad files name the problem; the loaded model stays usable
  const err = page.getByTestId('model-error');
  await page.getByTestId('model-file').setInputFiles({ name: 'other.safetensors', mimeType: 'application/octet-stream', buffer: safetensors({ w: new Float32Array(4) }, { source: 'elsewhere' }) });
  await expect(err).toContainText('other.safetensors');
  await expect(err).toContainText('no "model" key');
  const small = safetensors({ params: new Float32Array(10) }, { model: 'vae', format: 'latentgpu-1', config: file.metadata.config! });
  await page.getByTestId('model-file').setInputFiles({ name: 'small.safetensors', mimeType: 'application/octet-stream', buffer: small });
  await expect(err).toContainText('small.safetensors');
  await expect(err).toContainText('10 parameters');
  await page.getByTestId('model-file').setInputFiles({ name: 'junk.safetensors', mimeType: 'application/octet-stream', buffer: Buffer.from('not a safetensors file at all') });
  await expect(err).toContainText('junk.safetensors');
  await page.locator('#btn-step').click();
  await expect(page.getByTestId('step')).toHaveText('30');
  await screenshot(page, 'vae-bad-model-file');
});
