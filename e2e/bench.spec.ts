// The benchmark tab runs the GPU-versus-CPU comparison in this browser and
// shows bars plus the raw JSON.
import { expect, openApp, screenshot, test } from './fixtures.ts';

test('the benchmark tab measures WebGPU and the CPU backend and shows the raw JSON', async ({ page }) => {
  await openApp(page);
  await page.locator('#tab-bench').click();
  await page.locator('#btn-bench').click();
  await expect(page.getByTestId('bench-status')).toHaveText('done', { timeout: 150_000 });
  const result = JSON.parse(await page.getByTestId('bench-json').inputValue()) as {
    adapter: { isFallbackAdapter: boolean } | null;
    cpu: string;
    figures: { name: string; unit: string; webgpu: number | null; cpu: number | null }[];
  };
  expect(result.adapter).not.toBeNull();
  const names = result.figures.map((f) => f.name);
  expect(names).toContain('matmul 256³');
  expect(names.some((n) => n.startsWith('VAE'))).toBe(true);
  expect(names.some((n) => n.startsWith('PPCA exact EM'))).toBe(true);
  expect(names).toContain('VAE 784→400→20 (classic) training, batch 128');
  expect(result.cpu, 'the CPU column is the WebAssembly backend').toContain('WebAssembly SIMD');
  for (const f of result.figures) console.log(`${f.name}: WebGPU ${f.webgpu?.toFixed(1)} / CPU ${f.cpu?.toFixed(1)} ${f.unit}`);
  for (const f of result.figures) {
    expect(f.webgpu, `${f.name} on WebGPU`).toBeGreaterThan(0);
    expect(f.cpu, `${f.name} on the CPU`).toBeGreaterThan(0);
  }
  // one label per row of bars (Chart.js used to skip labels that would overlap)
  const labels = await page.evaluate(() => (window as unknown as { latentgpu: { benchLabels(): string[] } }).latentgpu.benchLabels());
  expect(labels, 'bar-chart row labels').toEqual(result.figures.map((f) => `${f.name} (${f.unit})`));
  await screenshot(page, 'benchmark');
});
