// bench/scale.ts's summary: a point's median over repetitions and the table's ratio to the smallest n.
import { describe, expect, it } from 'vitest';
import { medianPoint, scaleTable, type ScalePoint } from '../bench/scale.ts';

const point = (n: number, sps: number, rss: number, extra: Partial<ScalePoint> = {}): ScalePoint => ({
  target: 'cpu', adapter: 'cpu', method: 'vae', n, steps: 100, batch: 128, samplesPerSecond: sps, seconds: 1, setupSeconds: 0.5,
  peakRssMB: rss, deviceMB: null, load: [1, 2], ...extra,
});

describe('scale curve summary', () => {
  it('takes the median samples/s and the largest memory over repetitions', () => {
    const p = medianPoint([point(1e4, 300, 200), point(1e4, 100, 250), point(1e4, 200, 210, { error: 'x' }), point(1e4, 250, 220)]);
    expect(p.samplesPerSecond).toBe(250);
    expect(p.samples).toEqual([300, 100, 250]);
    expect(p.peakRssMB).toBe(250);
  });
  it('puts each n against the smallest n of its target and method, and names points not run', () => {
    const md = scaleTable([point(1e4, 400, 200), { ...point(1e7, 360, 210), samples: [350, 360, 370] }, point(1e4, NaN, 100, { method: 'sem', error: 'no streaming runner' })]);
    expect(md).toContain('| cpu | vae | 1e7 | 360 | 350–370 | 0.90 | 0.5 | 210 | – | 1.0→2.0 |');
    expect(md).toContain('| cpu | sem | 1e4 | not run: no streaming runner |');
  });
});
