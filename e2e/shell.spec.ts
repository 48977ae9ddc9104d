// The page shell: the backend chosen and the adapter badge, bad user files as
// inline errors, and the decoder likelihood chosen from a user's file.
import { isSoftwareAdapter } from '../src/gpu/device.ts';
import { expect, openApp, screenshot, setValue, test } from './fixtures.ts';

test('by default a hardware GPU is used, and the CPU backend rather than a software adapter, saying why', async ({ page }) => {
  await openApp(page);
  // what this browser offers, described as the app's src/gpu/device.ts sees it
  const info = await page.evaluate(async () => {
    const a = await navigator.gpu?.requestAdapter({ powerPreference: 'high-performance' });
    if (!a) return null;
    const i = a.info as GPUAdapterInfo & { isFallbackAdapter?: boolean };
    return {
      vendor: i.vendor, architecture: i.architecture, device: i.device, description: i.description,
      isFallbackAdapter: Boolean(i.isFallbackAdapter ?? (a as unknown as { isFallbackAdapter?: boolean }).isFallbackAdapter),
    };
  });
  expect(info, 'Chromium with --enable-unsafe-webgpu offers an adapter').not.toBeNull();
  const badge = page.getByTestId('adapter');
  const notice = page.getByTestId('cpu-notice');
  console.log(`adapter: ${JSON.stringify(info)}; badge: ${await badge.textContent()}`);
  if (info!.isFallbackAdapter || isSoftwareAdapter(info!)) {
    // this machine: SwiftShader only
    await expect(badge).toContainText('CPU backend');
    await expect(badge).toContainText('chosen over a software WebGPU adapter');
    await expect(notice).toBeVisible();
    await expect(notice).toContainText('software');
    await expect(notice).toContainText('?backend=webgpu');
    await expect(page.locator('input[name=backend][value=auto]')).toBeChecked();
  } else {
    await expect(badge).toContainText('WebGPU');
    await expect(badge).toContainText('hardware');
    await expect(notice).toBeHidden();
  }
  await screenshot(page, 'backend-default');

  // choosing WebGPU in the setup uses the adapter anyway
  await page.locator('input[name=backend][value=webgpu]').check();
  await expect(badge).toContainText('WebGPU');
  await expect(notice).toBeHidden();
});

test('shows the WebGPU adapter and whether it is a software fallback', async ({ page }) => {
  await openApp(page, { backend: 'webgpu' });
  const badge = page.getByTestId('adapter');
  await expect(badge).toContainText('WebGPU');
  await expect(badge).toContainText(/software fallback|hardware/);
  await expect(page.getByTestId('cpu-notice')).toBeHidden();
  await screenshot(page, 'adapter');
});

test('a malformed CSV shows an inline error naming the problem, and the app stays usable', async ({ page }) => {
  await openApp(page);
  await page.locator('#dataset').selectOption('file');
  await page.getByTestId('data-file').setInputFiles({
    name: 'ragged.csv',
    mimeType: 'text/csv',
    buffer: Buffer.from('1,2,3\n4,5,6\n7,8\n9,10,11\n12,13,14\n15,16,17\n'),
  });
  const err = page.getByTestId('data-error');
  await expect(err).toBeVisible();
  await expect(err).toContainText('ragged.csv');
  await expect(err).toContainText(/row 3|line 3/);
  await screenshot(page, 'malformed-csv');

  await page.getByTestId('data-file').setInputFiles({
    name: 'cells.csv',
    mimeType: 'text/csv',
    buffer: Buffer.from('a,b\n1,2\n3,oops\n5,6\n7,8\n9,10\n'),
  });
  await expect(err).toContainText('cells.csv');
  await expect(err).toContainText('oops');

  // a good file afterwards is accepted: the app is still usable
  const rows = Array.from({ length: 40 }, (_, i) => `${i % 7},${(i * 3) % 5},${i % 2},${(i * i) % 11}`).join('\n');
  await page.getByTestId('data-file').setInputFiles({ name: 'good.csv', mimeType: 'text/csv', buffer: Buffer.from(rows) });
  await expect(err).toBeHidden();
  await expect(page.getByTestId('data-status')).toContainText('good.csv: 32 train, 8 test rows, D = 4');
});

test('the decoder likelihood is chosen from a user\'s file; an explicit Bernoulli on values outside [0, 1] is an inline error', async ({ page }) => {
  await openApp(page, { backend: 'cpu' });
  await page.locator('#dataset').selectOption('file');
  await page.locator('#model').selectOption('vae');
  const rows = Array.from({ length: 80 }, (_, i) => `${(i % 7) / 7},${((i * 3) % 5) / 5},${i % 2},${Math.sin(i) * 2.5}`).join('\n');
  await page.getByTestId('data-file').setInputFiles({ name: 'real.csv', mimeType: 'text/csv', buffer: Buffer.from(rows) });
  await expect(page.getByTestId('data-status')).toContainText('real.csv: 64 train, 16 test rows, D = 4');
  const note = page.getByTestId('likelihood-note');
  const err = page.getByTestId('likelihood-error');
  // column 4 is 2.5·sin(i): row 2 of the train rows holds 2.5·sin(1) = 2.10...
  await expect(note).toContainText('outside [0, 1]');
  await expect(note).toContainText('real.csv:train row 2, column 4');
  await expect(note).toContainText('Gaussian decoder');
  await expect(page.locator('#likelihood')).toHaveValue('auto');

  await page.locator('#likelihood').selectOption('bernoulli');
  await expect(err).toBeVisible();
  await expect(err).toContainText('column 4');
  await expect(err).toContainText('likelihood: Gaussian');
  await page.locator('#btn-step').click();
  await expect(err).toContainText('column 4');
  await expect(page.getByTestId('run-error')).toBeHidden();
  await expect(page.getByTestId('step')).toHaveText('0');
  await screenshot(page, 'likelihood-bernoulli-refused');

  // automatic: the Gaussian decoder trains
  await page.locator('#likelihood').selectOption('auto');
  await expect(err).toBeHidden();
  await setValue(page, 'latent', '2');
  await setValue(page, 'hidden', '8');
  await setValue(page, 'batch', '16');
  await setValue(page, 'steps-per-tick', '5');
  await page.locator('#btn-step').click();
  await expect(page.getByTestId('step')).toHaveText('5');
  await expect(note).toContainText('Gaussian decoder');
  await expect(page.getByTestId('run-error')).toBeHidden();
  expect(Number.isFinite(Number(await page.getByTestId('test-objective').textContent())), 'a finite test ELBO').toBe(true);
});
