// The benchmark report (bench/report.ts): the FLOP count behind "fraction of
// peak" and the latentgpu / TF.js ratios against the goals of issue #6, on
// made-up rows (no benchmark runs here).
import { describe, expect, it } from 'vitest';
import { HEADLINE_MATMUL, HEADLINE_VAE, markdown, svgChart, vaeStepFlops, type SuiteResults } from '../bench/report.ts';
import type { BenchRow } from '../bench/suite/common.ts';
import { classicVaeConfig } from '../src/models/vae.ts';

function row(impl: string, target: string, name: string, median: number, unit: string, ms: number, group: string): BenchRow {
  return { group, impl, target, name, unit, median, min: median * 0.9, max: median * 1.1, reps: 3, ms };
}

function results(rows: BenchRow[]): SuiteResults {
  return {
    date: '2026-01-01T00:00:00.000Z', host: 'h', seconds: 60, conditions: { cpuModel: 'x', cpus: 2, node: 'v20' }, versions: { webgpu: '0' },
    loadavg: { start: [1, 1, 1], end: [1, 1, 1] }, rows, notes: [],
    children: [{ name: 'llvmpipe: latentgpu', status: 'ok', seconds: 1, report: { target: 'llvmpipe', impl: 'latentgpu', adapter: { name: 'llvmpipe', isFallbackAdapter: false }, rows: [], notes: [], loadavg: { start: [1], end: [1] }, seconds: 1 } }],
  };
}

describe('bench report', () => {
  it('counts the matmul FLOPs of a VAE step: forward, dW and dX, no dX for the data', () => {
    // classic: 784×400, 400×(20+20), 20×400, 400×784
    const sum = 784 * 400 + 400 * 40 + 20 * 400 + 400 * 784;
    expect(vaeStepFlops(classicVaeConfig(), 128)).toBe(2 * 128 * (3 * sum - 784 * 400));
  });

  it('states each ratio against its goal and the fraction of the peak', () => {
    const md = markdown(results([
      row('latentgpu', 'llvmpipe', HEADLINE_VAE, 800, 'samples/s', 160, 'vae'),
      row('tfjs', 'llvmpipe', HEADLINE_VAE, 200, 'samples/s', 640, 'vae'),
      row('latentgpu', 'llvmpipe', HEADLINE_MATMUL, 5, 'GFLOP/s', 50, 'matmul'),
      row('tfjs', 'llvmpipe', HEADLINE_MATMUL, 2, 'GFLOP/s', 130, 'matmul'),
      row('latentgpu', 'llvmpipe', 'peak FMA (shaders/peak.wgsl)', 20, 'GFLOP/s', 100, 'peak'),
    ]));
    expect(md).toContain('**4.00×** (met)');
    expect(md).toContain('**2.50×** (short)');
    // matmul 512³ at 5 of a 20 GFLOP/s peak
    expect(md).toMatch(/\| llvmpipe \| 20\.0 \(18\.0–22\.0\) \| 5\.00 \| 25% \|/);
    expect(svgChart(results([row('latentgpu', 'llvmpipe', HEADLINE_MATMUL, 5, 'GFLOP/s', 50, 'matmul')]))).toMatch(/^<svg[^]*<\/svg>\n$/);
  });
});
