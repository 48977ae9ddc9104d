// The page shell: the adapter badge, and bad user files as inline errors.
import { expect, openApp, screenshot, test } from './fixtures.ts';

test('shows the WebGPU adapter and whether it is a software fallback', async ({ page }) => {
  await openApp(page);
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
