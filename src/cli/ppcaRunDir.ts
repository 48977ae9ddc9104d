// The PPCA run folder (--run-dir): the objective curve, the loadings as images
// and reconstructions of test rows; shared by every PPCA method, missing values included.
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../io/atomic.node.ts';
import { latentFactors, gramOf, type PpcaHost } from '../models/ppca/model.ts';
import { lineChartSvg, type Series } from '../report/curve.ts';
import { imageGrid, interleaveRows } from '../report/grid.ts';
import { encodePng } from '../report/png.node.ts';
import type { Dataset } from './context.ts';

/** Whether --run-dir DIR can be used: created if missing; an existing non-directory is an error, before any work. */
export function prepareRunDir(dir: string): void {
  if (existsSync(dir) && !statSync(dir).isDirectory()) throw new Error(`--run-dir ${dir} is a file, not a directory; give a folder for the run's files`);
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw new Error(`cannot create --run-dir ${dir}: ${(e as Error).message}`);
  }
}

/** Values mapped to [0, 1] by their own min and max (a flat block → 0.5). */
function normalised(v: Float32Array): Float32Array {
  let lo = Infinity;
  let hi = -Infinity;
  for (const x of v) { lo = Math.min(lo, x); hi = Math.max(hi, x); }
  return hi > lo ? v.map((x) => (x - lo) / (hi - lo)) : v.map(() => 0.5);
}

/** Column j of W (D×d) for every j, one after another: each column an image. */
function loadingImages(h: PpcaHost): Float32Array {
  const { D, d } = h;
  const out = new Float32Array(D * d);
  for (let j = 0; j < d; j++) out.set(normalised(Float32Array.from({ length: D }, (_, r) => h.W[r * d + j]!)), j * D);
  return out;
}

/** Posterior-mean reconstructions W E + μ, E = M⁻¹Wᵀ(x − μ), of the first rows of x, in float64 on the host. */
function reconstructRows(h: PpcaHost, x: Float32Array, rows: number): Float32Array {
  const { D, d } = h;
  const Minv = latentFactors(gramOf(h.W, D, d), h.sigma2, d).M.inverse;
  const out = new Float32Array(rows * D);
  const y = new Float64Array(d);
  for (let i = 0; i < rows; i++) {
    y.fill(0);
    for (let r = 0; r < D; r++) {
      const c = x[i * D + r]! - h.mu[r]!;
      for (let j = 0; j < d; j++) y[j]! += h.W[r * d + j]! * c;
    }
    const e = Float64Array.from({ length: d }, (_, j) => { let s = 0; for (let k = 0; k < d; k++) s += Minv[j * d + k]! * y[k]!; return s; });
    for (let r = 0; r < D; r++) {
      let v = h.mu[r]!;
      for (let j = 0; j < d; j++) v += h.W[r * d + j]! * e[j]!;
      out[i * D + r] = v;
    }
  }
  return out;
}

/** The run folder's files; returns their names. */
export async function writeRunDir(dir: string, h: PpcaHost, test: Dataset, curve: [number, number][], xLabel: string, closedForm: number | undefined, result: Record<string, unknown>): Promise<string[]> {
  const files: string[] = [];
  const put = async (name: string, bytes: Uint8Array | string): Promise<void> => {
    await writeFileAtomic(join(dir, name), typeof bytes === 'string' ? new TextEncoder().encode(bytes) : bytes);
    files.push(name);
  };
  const series: Series[] = [{ name: 'train log-likelihood per sample', color: '#c33', points: curve.map(([x, y]) => ({ x, y })) }];
  if (closedForm !== undefined && curve.length) {
    series.push({ name: 'closed-form maximum', color: '#36c', points: [{ x: curve[0]![0], y: closedForm }, { x: curve.at(-1)![0], y: closedForm }] });
  }
  await put('objective.svg', lineChartSvg(series, { title: `ppca ${String(result.method)}: log-likelihood per sample (nats)`, xLabel, yLabel: 'nats per sample' }));
  const side = Math.round(Math.sqrt(h.D));
  if (side * side === h.D) {
    await put('loadings.png', encodePng(imageGrid(loadingImages(h), h.d, { side, cols: Math.min(h.d, 10) })));
    // rows spread over the test set (the MNIST split is ordered by digit)
    const nShow = Math.min(32, test.n);
    const shown = new Float32Array(nShow * h.D);
    for (let i = 0; i < nShow; i++) {
      const src = Math.floor((i * test.n) / nShow);
      shown.set(test.x.subarray(src * h.D, (src + 1) * h.D), i * h.D);
    }
    let pairs = interleaveRows(shown, reconstructRows(h, shown, nShow), nShow, h.D);
    // data outside [0, 1] are shown on the originals' range (the grid clamps to [0, 1])
    let lo = Infinity;
    let hi = -Infinity;
    for (const v of shown) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
    if (lo < 0 || hi > 1) pairs = pairs.map((v) => (hi > lo ? (v - lo) / (hi - lo) : 0.5));
    await put('reconstructions.png', encodePng(imageGrid(pairs, 2 * nShow, { side, cols: 16 })));
  }
  return files;
}

