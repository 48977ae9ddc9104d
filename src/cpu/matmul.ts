// CPU reference for matmul: C[b] = act(alpha · op(A[b]) · op(B[b]) + bias) (+ C[b]).
// A packed-panel GEMM: op(B) is packed into panels of 4 columns and a block of
// op(A) rows into panels of 4 rows (float64, zero-padded, so transposes and ragged
// edges cost nothing in the inner loop); a 4×4 block of C then accumulates in 16
// local variables — 8 loads feed 16 multiply-adds. Panels are blocked so an A
// panel stays in L1 and a chunk of B panels in L2. Scratch is reused across calls.
import type { Activation } from '../kernels/elementwise.ts';
import { checkMatmul, type MatmulParams, type MatmulShape } from '../kernels/matmul.ts';

/** rows of op(A) packed at a time (an MC×k float64 block) */
const MC = 64;
/** 4-column panels of op(B) per chunk kept hot in L2 */
const JC = 16;

let packedA = new Float64Array(0);
let packedB = new Float64Array(0);
/** one finished 4×4 block of C before the epilogue */
const tile = new Float64Array(16);

export function matmul(p: MatmulParams<Float32Array>): void {
  const s = checkMatmul(p);
  const { m, n, k, batch } = s;
  if (m === 0 || n === 0 || batch === 0) return;
  const nPanels = Math.ceil(n / 4);
  if (packedB.length < nPanels * 4 * k) packedB = new Float64Array(nPanels * 4 * k);
  if (packedA.length < MC * k) packedA = new Float64Array(MC * k);
  // locals, not module variables, in the hot loop: V8 reloads context slots on every access
  const Ap = packedA;
  const Bp = packedB;

  for (let bi = 0; bi < batch; bi++) {
    // a broadcast B (stride 0) is packed once
    if (bi === 0 || s.strideB !== 0) packB(Bp, p.b, bi * s.strideB, s);
    const aOff = bi * s.strideA;
    const cOff = bi * s.strideC;
    for (let i0 = 0; i0 < m; i0 += MC) {
      const rows = Math.min(MC, m - i0);
      const iPanels = Math.ceil(rows / 4);
      packA(Ap, p.a, aOff, i0, rows, s);
      for (let jc = 0; jc < nPanels; jc += JC) {
        const jcEnd = Math.min(nPanels, jc + JC);
        for (let ip = 0; ip < iPanels; ip++) {
          const aBase = ip * 4 * k;
          const aEnd = aBase + 4 * k;
          for (let jp = jc; jp < jcEnd; jp++) {
            let c00 = 0, c01 = 0, c02 = 0, c03 = 0, c10 = 0, c11 = 0, c12 = 0, c13 = 0;
            let c20 = 0, c21 = 0, c22 = 0, c23 = 0, c30 = 0, c31 = 0, c32 = 0, c33 = 0;
            for (let ao = aBase, bo = jp * 4 * k; ao < aEnd; ao += 4, bo += 4) {
              const b0 = Bp[bo]!, b1 = Bp[bo + 1]!, b2 = Bp[bo + 2]!, b3 = Bp[bo + 3]!;
              let a = Ap[ao]!;
              c00 += a * b0; c01 += a * b1; c02 += a * b2; c03 += a * b3;
              a = Ap[ao + 1]!;
              c10 += a * b0; c11 += a * b1; c12 += a * b2; c13 += a * b3;
              a = Ap[ao + 2]!;
              c20 += a * b0; c21 += a * b1; c22 += a * b2; c23 += a * b3;
              a = Ap[ao + 3]!;
              c30 += a * b0; c31 += a * b1; c32 += a * b2; c33 += a * b3;
            }
            tile[0] = c00; tile[1] = c01; tile[2] = c02; tile[3] = c03;
            tile[4] = c10; tile[5] = c11; tile[6] = c12; tile[7] = c13;
            tile[8] = c20; tile[9] = c21; tile[10] = c22; tile[11] = c23;
            tile[12] = c30; tile[13] = c31; tile[14] = c32; tile[15] = c33;
            storeTile(s, p.c, p.bias, cOff, i0 + ip * 4, jp * 4);
          }
        }
      }
    }
  }
}

/** Bp[(j>>2)·k·4 + q·4 + (j&3)] = op(B)[q, j], columns past n zero. */
function packB(Bp: Float64Array, B: Float32Array, off: number, s: MatmulShape): void {
  const { n, k } = s;
  const nPad = Math.ceil(n / 4) * 4;
  if (s.transB) {
    // B is n×k: row j of B is column j of op(B)
    for (let j = 0; j < nPad; j++) {
      const dst = (j >> 2) * 4 * k + (j & 3);
      if (j < n) for (let q = 0, src = off + j * k; q < k; q++) Bp[dst + q * 4] = B[src + q]!;
      else for (let q = 0; q < k; q++) Bp[dst + q * 4] = 0;
    }
  } else {
    for (let q = 0; q < k; q++) {
      const src = off + q * n;
      for (let j = 0; j < nPad; j++) Bp[(j >> 2) * 4 * k + q * 4 + (j & 3)] = j < n ? B[src + j]! : 0;
    }
  }
}

/** Ap[(r>>2)·k·4 + q·4 + (r&3)] = op(A)[i0 + r, q] for r < rows, zero-padded to a multiple of 4 rows. */
function packA(Ap: Float64Array, A: Float32Array, off: number, i0: number, rows: number, s: MatmulShape): void {
  const { m, k } = s;
  const rPad = Math.ceil(rows / 4) * 4;
  for (let r = 0; r < rPad; r++) {
    const dst = (r >> 2) * 4 * k + (r & 3);
    const i = i0 + r;
    if (r >= rows) for (let q = 0; q < k; q++) Ap[dst + q * 4] = 0;
    else if (s.transA) for (let q = 0, src = off + i; q < k; q++) Ap[dst + q * 4] = A[src + q * m]!;
    else for (let q = 0, src = off + i * k; q < k; q++) Ap[dst + q * 4] = A[src + q]!;
  }
}

function applyAct(v: number, act: Activation): number {
  switch (act) {
    case 'relu': return v > 0 ? v : 0;
    case 'tanh': return Math.tanh(v);
    case 'sigmoid': {
      // never exponentiates a large positive number
      const e = Math.exp(-Math.abs(v));
      return v >= 0 ? 1 / (1 + e) : e / (1 + e);
    }
    default: return v;
  }
}

/** The epilogue for the 4×4 block at (i, j): alpha, bias, activation, accumulate; clipped to m×n. */
function storeTile(s: MatmulShape, C: Float32Array, bias: Float32Array | undefined, cOff: number, i: number, j: number): void {
  const { m, n, alpha, act, accumulate } = s;
  const rows = Math.min(4, m - i);
  const cols = Math.min(4, n - j);
  for (let r = 0; r < rows; r++) {
    const row = cOff + (i + r) * n + j;
    for (let c = 0; c < cols; c++) {
      let v = alpha * tile[r * 4 + c]!;
      if (bias) v += bias[j + c]!;
      if (act !== 'identity') v = applyAct(v, act);
      C[row + c] = accumulate ? C[row + c]! + v : v;
    }
  }
}
