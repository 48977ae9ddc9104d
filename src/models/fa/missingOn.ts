// Factor analysis with missing values on a backend: the EM of missing.ts with
// its O(n·D·d²) sums by the backend's matmul; the per-row d×d and per-column
// (d+1)×(d+1) solves, and every O(n·D) term, stay on the host in float64.
// With mask m (n×D, 1 where observed), X₀ the rows centred on the observed
// column means (float64, rounded once to float32) with missing entries 0, μ the
// fitted mean in that centred space, and w_j the rows of W:
//   E-step  m·[w_a w_b/ψ_j (a ≥ b) | μ_j w_j/ψ_j]  gives M_i − I and Σ_O μ_j w_j/ψ_j,
//           X₀·[w_j/ψ_j]                          gives Σ_O x_j w_j/ψ_j, so y_i by difference;
//           Σ_O (x_j − μ_j)²/ψ_j and Σ_O log ψ_j per row on the host (O(D) each);
//   M-step  mᵀ·(lower triangles of ⟨z̃z̃ᵀ⟩_i) and X₀ᵀ·[E_i, 1], summed 256 rows at a
//           time (fa.ts rowSumProduct), give each column's system.
// The rows sit in blocks of at most one storage binding per operand (each padded
// to whole 256-row chunks; FaMissingOptions.chunkRows or LATENTGPU_CHUNK_ROWS
// forces a size), each block's products read back and added in float64.
import { KernelError, dataChunkRows, type Backend, type Tensor } from '../../backend.ts';
import { Workspace } from '../ppca/model.ts';
import { FA_SUM_CHUNK_ROWS, rowSumProduct, type FaHost } from './fa.ts';
import {
  faMissingMeanLogLik, finishRow, missingSetup, solveColumns, type FaMissingOptions, type FaMissingResult, type MissingData,
} from './missing.ts';

/** Rows [r0, r0 + rows) on the device, padded with zero rows to `padded`: centred values (missing 0) and the mask. */
interface Block {
  r0: number;
  rows: number;
  padded: number;
  ws: Workspace;
  x0: Tensor;
  mask: Tensor;
}

/** Lower-triangle pairs (a ≥ b) of a k×k matrix in row order. */
function lowerPairs(k: number): { a: Int32Array; b: Int32Array } {
  const a: number[] = [];
  const b: number[] = [];
  for (let p = 0; p < k; p++) for (let q = 0; q <= p; q++) { a.push(p); b.push(q); }
  return { a: Int32Array.from(a), b: Int32Array.from(b) };
}

/** Fits factor analysis by exact EM over the observed entries, the big sums on `b`. */
export async function fitFaMissingOn(b: Backend, data: MissingData, d: number, opts: FaMissingOptions = {}): Promise<FaMissingResult> {
  const kernel = 'fa missing';
  const t0 = performance.now();
  const s = missingSetup(data, d, opts, kernel);
  const { n, D } = data;
  const { xc, floor, sxx, colObserved } = s;
  const pairs = lowerPairs(d);
  const pairs1 = lowerPairs(d + 1);
  const T = pairs.a.length;
  const K1 = T + d;
  const K2 = pairs1.a.length;
  const R = Math.min(Math.ceil(n / FA_SUM_CHUNK_ROWS) * FA_SUM_CHUNK_ROWS, dataChunkRows(b, Math.max(D, K1, K2), { align: FA_SUM_CHUNK_ROWS, override: opts.chunkRows }));
  const blocks: Block[] = [];
  const ws = new Workspace(b, 'fa.missing');
  const curve: number[] = [];
  let h = s.start;
  let converged = false;
  let it = 0;
  try {
    for (let r0 = 0; r0 < n; r0 += R) {
      const rows = Math.min(R, n - r0);
      const padded = Math.ceil(rows / FA_SUM_CHUNK_ROWS) * FA_SUM_CHUNK_ROWS;
      const x0 = new Float32Array(padded * D);
      const mask = new Float32Array(padded * D);
      for (let i = 0; i < rows * D; i++) {
        const v = xc[r0 * D + i]!;
        if (Number.isNaN(v)) continue;
        x0[i] = v;
        mask[i] = 1;
      }
      const k = blocks.length;
      const bws = new Workspace(b, `fa.missing${k}`);
      blocks.push({ r0, rows, padded, ws: bws, x0: bws.upload('x0', x0), mask: bws.upload('mask', mask) });
    }
    let prev = -Infinity;
    for (; it < (opts.iters ?? s.iters); it++) {
      // E-step products
      const P1 = new Float32Array(D * K1);
      const P2 = new Float32Array(D * d);
      for (let j = 0; j < D; j++) {
        const w = h.W.subarray(j * d, (j + 1) * d);
        const ip = 1 / h.psi[j]!;
        for (let t = 0; t < T; t++) P1[j * K1 + t] = w[pairs.a[t]!]! * w[pairs.b[t]!]! * ip;
        for (let a = 0; a < d; a++) {
          P1[j * K1 + T + a] = h.mu[j]! * w[a]! * ip;
          P2[j * d + a] = w[a]! * ip;
        }
      }
      const P1T = ws.upload('P1', P1);
      const P2T = ws.upload('P2', P2);
      const outs = await Promise.all(blocks.map((k) => {
        const out1 = k.ws.get('out1', k.padded * K1);
        const out2 = k.ws.get('out2', k.padded * d);
        b.matmul({ a: k.mask, b: P1T, c: out1, m: k.padded, n: K1, k: D });
        b.matmul({ a: k.x0, b: P2T, c: out2, m: k.padded, n: d, k: D });
        return Promise.all([b.read(out1), b.read(out2)]);
      }));
      const blockOf = (i: number): number => Math.floor(i / R);
      const E = new Float64Array(n * d);
      const cov = new Float64Array(n * d * d);
      const logPsi = h.psi.map(Math.log);
      const M = new Float64Array(d * d);
      const y = new Float64Array(d);
      let ll = 0;
      for (let i = 0; i < n; i++) {
        const [o1, o2] = outs[blockOf(i)]!;
        const li = i - blocks[blockOf(i)]!.r0;
        for (let t = 0; t < T; t++) M[pairs.a[t]! * d + pairs.b[t]!] = o1[li * K1 + t]!;
        for (let a = 0; a < d; a++) y[a] = o2[li * d + a]! - o1[li * K1 + T + a]!;
        let obs = 0;
        let quad = 0;
        let sumLog = 0;
        for (let j = 0; j < D; j++) {
          const v = xc[i * D + j]!;
          if (Number.isNaN(v)) continue;
          const r = v - h.mu[j]!;
          obs++;
          quad += (r * r) / h.psi[j]!;
          sumLog += logPsi[j]!;
        }
        ll += finishRow(M, y, d, obs, quad, sumLog, E, cov, i);
      }
      ll /= n;
      if (!Number.isFinite(ll)) throw new KernelError(kernel, `the log-likelihood became ${ll} at iteration ${it}`);
      curve.push(ll);
      opts.onIteration?.(it, ll);
      if (Math.abs(ll - prev) < (opts.tol ?? s.tol)) {
        converged = true;
        break;
      }
      prev = ll;
      // M-step sums: mᵀ·⟨z̃z̃ᵀ⟩ (lower triangles) and X₀ᵀ·[E, 1]
      const zt = new Float64Array(d + 1);
      const sums = await Promise.all(blocks.map((blk) => {
        const Z2 = new Float32Array(blk.padded * K2);
        const Z1 = new Float32Array(blk.padded * (d + 1));
        for (let li = 0; li < blk.rows; li++) {
          const i = blk.r0 + li;
          for (let a = 0; a < d; a++) zt[a] = E[i * d + a]!;
          zt[d] = 1;
          for (let t = 0; t < K2; t++) {
            const a = pairs1.a[t]!;
            const c = pairs1.b[t]!;
            Z2[li * K2 + t] = zt[a]! * zt[c]! + (a < d && c < d ? cov[i * d * d + a * d + c]! : 0);
          }
          Z1.set(zt, li * (d + 1));
        }
        const A = rowSumProduct(b, blk.ws, blk.mask, D, blk.ws.upload('Z2', Z2), K2, blk.padded, 'A');
        const B = rowSumProduct(b, blk.ws, blk.x0, D, blk.ws.upload('Z1', Z1), d + 1, blk.padded, 'Bm');
        return Promise.all([b.read(A), b.read(B)]);
      }));
      const k = d + 1;
      const aH = new Float64Array(D * K2);
      const bH = new Float64Array(D * k);
      for (const [a, c] of sums) {
        for (let i = 0; i < aH.length; i++) aH[i]! += a[i]!;
        for (let i = 0; i < bH.length; i++) bH[i]! += c[i]!;
      }
      h = {
        D, d, ...solveColumns((j, Aj) => {
          for (let t = 0; t < K2; t++) {
            const a = pairs1.a[t]!;
            const c = pairs1.b[t]!;
            Aj[a * k + c] = Aj[c * k + a] = aH[j * K2 + t]!;
          }
        }, bH, sxx, colObserved, floor, d),
      };
    }
  } finally {
    for (const k of blocks) k.ws.releaseAll();
    ws.releaseAll();
  }
  const model: FaHost = { D, d, W: h.W, mu: h.mu.map((m, j) => m + s.means[j]!), psi: h.psi };
  const heywood: number[] = [];
  for (let j = 0; j < D; j++) if (h.psi[j]! <= floor[j]! * (1 + 1e-12)) heywood.push(j);
  // the returned figure in float64 on the host (the iterations' used float32 products)
  const loglik = faMissingMeanLogLik(model, data);
  if (!converged) curve.push(loglik);
  return { model, loglik, curve, iterations: it, converged, observed: s.observed, heywood, seconds: (performance.now() - t0) / 1000 };
}
