// SIMD matmul: C[b] = act(alpha · op(A[b]) · op(B[b]) + bias) (+ C[b]), the
// semantics of src/kernels.ts MatmulParams, on byte offsets into the shared
// memory. A Goto/BLIS-style loop nest: a KC×NC block of op(B) is packed into
// NR-column panels (zero-padded), an MC×KC block of op(A) into MR-row panels of
// AS floats per k step (so transposes and ragged edges cost nothing in the inner
// loop, and packing is vector copies or 4×4 register transposes), and a
// register micro-kernel keeps an MR×NR block of C in f32x4 registers: 5×8 (10
// fused multiply-adds per k step) in the relaxed-SIMD build, 4×8 (8 multiplies +
// 8 adds) in the plain one (see kernel5x8 and kernel4x8 for why); right edges
// of ≤ 4 columns get a narrower kernel. NR = 8 divides the VAE's n (400, 784)
// and 512 with no ragged panel.
// The KC slice of B's micro-panel (16 KiB of the 48 KiB L1d) stays in L1 while
// the A panels stream from L2 (2 MiB); the packed B block (1 MiB) lives in L2.
// Why 5×8 and 4×8, the block sizes and the packing: measured, with what was
// rejected, in docs/kernels-results.md §1.
import { activation4, ACT_IDENTITY } from './math';

const MR: i32 = ASC_FEATURE_RELAXED_SIMD ? 5 : 4;
const NR: i32 = 8;
export const KC: i32 = 512;
export const MC: i32 = 80; // a multiple of both MRs
export const NC: i32 = 512;
// A packed panel keeps AS floats per k step: rows 0–3 as one f32x4 (packing is
// 4×4 transposes and vector copies), row 4 of the 5×8 tile in the next lane
// (AS = 8 keeps every step's vector 16-byte aligned; lanes 5–7 are never read).
const AS: i32 = MR > 4 ? 8 : 4;
// Packed B panels are kc·NR + BPAD floats apart: at kc = 512 a bare panel is
// 16 KiB, and packing one row of B (a store into every panel) would hit one L1
// set over and over.
const BPAD: i32 = 16;
@inline function panelB(kc: i32): i32 { return kc * NR + BPAD; }

/** Bytes of per-thread scratch one matmul thread needs (packed A, packed B, one tile). */
export function matmulScratchBytes(): i32 {
  return (MC / MR * AS * KC + panelB(KC) * (NC / NR) + MR * NR) * 4;
}

// Job descriptor layout (i32 slots at desc), written by src/wasm/backend.ts.
const D_A = 0; const D_B = 1; const D_C = 2; const D_BIAS = 3;
const D_M = 4; const D_N = 5; const D_K = 6;
const D_TRANS_A = 7; const D_TRANS_B = 8;
const D_BATCH = 9; const D_STRIDE_A = 10; const D_STRIDE_B = 11; const D_STRIDE_C = 12;
const D_ACT = 13; const D_ALPHA = 14; const D_ACCUMULATE = 15;
const D_SCRATCH = 16; const D_SCRATCH_STRIDE = 17;

/**
 * a·b + c: one fused multiply-add where the build has relaxed SIMD (x86 FMA
 * halves the instructions of the inner loop), else a multiply and an add.
 */
@inline function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(c, f32x4.mul(a, b));
}

@inline function slot(desc: usize, i: i32): i32 {
  return load<i32>(desc + (<usize>i << 2));
}

// The current job, in module globals: globals are per instance and every
// thread has its own instance (heap objects would be shared between threads).
let jobA: usize = 0, jobB: usize = 0, jobC: usize = 0, jobBias: usize = 0;
let jobM: i32 = 0, jobN: i32 = 0, jobK: i32 = 0;
let jobTransA = false, jobTransB = false;
let jobAct: i32 = 0, jobAlpha: f32 = 1, jobAccumulate = false;
let packA: usize = 0;
let packB: usize = 0;
let tileBuf: usize = 0;

/**
 * Thread tid's share of the matmul described at desc. Batches are split across
 * threads when there are enough of them, otherwise the larger of m and n is
 * split into MR-/NR-aligned ranges; each thread packs the operands it reads.
 */
export function matmulThread(desc: usize, tid: i32, nthreads: i32): void {
  jobA = <usize>slot(desc, D_A); jobB = <usize>slot(desc, D_B); jobC = <usize>slot(desc, D_C);
  jobBias = <usize>slot(desc, D_BIAS);
  const m = slot(desc, D_M); const n = slot(desc, D_N); const k = slot(desc, D_K);
  jobM = m; jobN = n; jobK = k;
  jobTransA = slot(desc, D_TRANS_A) != 0; jobTransB = slot(desc, D_TRANS_B) != 0;
  jobAct = slot(desc, D_ACT);
  jobAlpha = reinterpret<f32>(slot(desc, D_ALPHA));
  jobAccumulate = slot(desc, D_ACCUMULATE) != 0;
  const batch = slot(desc, D_BATCH);
  const strideA = <usize>slot(desc, D_STRIDE_A) << 2;
  const strideB = <usize>slot(desc, D_STRIDE_B) << 2;
  const strideC = <usize>slot(desc, D_STRIDE_C) << 2;
  const scratch = <usize>slot(desc, D_SCRATCH) + <usize>tid * <usize>slot(desc, D_SCRATCH_STRIDE);
  packA = scratch;
  packB = packA + <usize>(MC / MR * AS * KC * 4);
  tileBuf = packB + <usize>(panelB(KC) * (NC / NR) * 4);
  if (m == 0 || n == 0 || batch == 0) return;

  let b0 = 0, b1 = batch, i0 = 0, i1 = m, j0 = 0, j1 = n;
  if (batch >= nthreads) {
    b0 = <i32>(<i64>batch * tid / nthreads);
    b1 = <i32>(<i64>batch * (tid + 1) / nthreads);
  } else if (m >= n) {
    const units = (m + MR - 1) / MR;
    i0 = min(m, <i32>(<i64>units * tid / nthreads) * MR);
    i1 = min(m, <i32>(<i64>units * (tid + 1) / nthreads) * MR);
  } else {
    const units = (n + NR - 1) / NR;
    j0 = min(n, <i32>(<i64>units * tid / nthreads) * NR);
    j1 = min(n, <i32>(<i64>units * (tid + 1) / nthreads) * NR);
  }
  if (i0 >= i1 || j0 >= j1) return;
  const a = jobA, b = jobB, c = jobC;
  for (let bi = b0; bi < b1; bi++) {
    jobA = a + <usize>bi * strideA;
    jobB = b + <usize>bi * strideB;
    jobC = c + <usize>bi * strideC;
    gemmBlock(i0, i1, j0, j1);
  }
}

/** C[i0:i1, j0:j1] of the current job (one batch item). */
function gemmBlock(i0: i32, i1: i32, j0: i32, j1: i32): void {
  const k = jobK;
  for (let jc = j0; jc < j1; jc += NC) {
    const nc = min(NC, j1 - jc);
    // k = 0 still has to write act(bias) (or leave C alone when accumulating).
    // Equal slices of at most KC (k = 784 → 392 + 392, not 512 + 272): a short
    // last slice would pay a whole pass of tile epilogues for less work.
    const slices = max(1, (k + KC - 1) / KC);
    const kStep = max(1, (k + slices - 1) / slices);
    for (let pc = 0; pc < max(k, 1); pc += kStep) {
      const kc = min(kStep, k - pc);
      const first = pc == 0;
      const last = pc + kStep >= k;
      packBBlock(pc, kc, jc, nc);
      for (let ic = i0; ic < i1; ic += MC) {
        const mc = min(MC, i1 - ic);
        packABlock(ic, mc, pc, kc);
        for (let jr = 0; jr < nc; jr += NR) {
          const bp = packB + <usize>((jr / NR) * panelB(kc)) * 4;
          for (let ir = 0; ir < mc; ir += MR) {
            const ap = packA + <usize>((ir / MR) * kc * AS) * 4;
            const rows = min(MR, mc - ir), cols = min(NR, nc - jr);
            // a right edge of ≤ 4 columns (n = 20 → 8 + 8 + 4) skips the padding's multiply-adds
            if (cols <= 4) kernelNarrow(kc, ap, bp, ic + ir, jc + jr, rows, cols, first, last);
            else if (ASC_FEATURE_RELAXED_SIMD) kernel5x8(kc, ap, bp, ic + ir, jc + jr, rows, cols, first, last);
            else kernel4x8(kc, ap, bp, ic + ir, jc + jr, rows, cols, first, last);
          }
        }
      }
    }
  }
}

/** packB[(j/NR)·panelB(kc) + q·NR + j%NR] = op(B)[pc+q, jc+j], columns past nc zero. */
function packBBlock(pc: i32, kc: i32, jc: i32, nc: i32): void {
  const n = jobN, k = jobK, B = jobB;
  const ncPad = (nc + NR - 1) / NR * NR;
  if (jobTransB) {
    // B is n×k: row j of B is column j of op(B). 4×4 blocks are transposed in
    // registers (4 loads, 8 shuffles, 4 stores for 16 values instead of 32
    // scalar moves); the ragged rest goes one value at a time.
    const rowBytes = <usize>k * 4;
    let j = 0;
    for (; j + 4 <= nc; j += 4) {
      const dst = packB + <usize>((j / NR) * panelB(kc) + j % NR) * 4;
      const src = B + <usize>((jc + j) * k + pc) * 4;
      let q = 0;
      for (; q + 4 <= kc; q += 4) {
        const s = src + <usize>q * 4;
        const r0 = v128.load(s), r1 = v128.load(s + rowBytes);
        const r2 = v128.load(s + 2 * rowBytes), r3 = v128.load(s + 3 * rowBytes);
        transpose4Store(r0, r1, r2, r3, dst + <usize>(q * NR) * 4, <usize>NR * 4);
      }
      for (; q < kc; q++) {
        for (let t = 0; t < 4; t++) {
          store<f32>(dst + <usize>(q * NR + t) * 4, load<f32>(src + <usize>t * rowBytes + <usize>q * 4));
        }
      }
    }
    for (; j < ncPad; j++) {
      const dst = packB + <usize>((j / NR) * panelB(kc) + j % NR) * 4;
      if (j < nc) {
        const src = B + <usize>((jc + j) * k + pc) * 4;
        for (let q = 0; q < kc; q++) store<f32>(dst + <usize>(q * NR) * 4, load<f32>(src + <usize>q * 4));
      } else {
        for (let q = 0; q < kc; q++) store<f32>(dst + <usize>(q * NR) * 4, 0);
      }
    }
  } else {
    for (let q = 0; q < kc; q++) {
      const src = B + <usize>((pc + q) * n + jc) * 4;
      let dst = packB + <usize>(q * NR) * 4;
      let j = 0;
      for (; j + NR <= nc; j += NR) {
        for (let v = 0; v < NR; v += 4) v128.store(dst + <usize>v * 4, v128.load(src + <usize>(j + v) * 4));
        dst += <usize>panelB(kc) * 4;
      }
      if (j < nc) {
        // the ragged panel: whole vectors while they fit, then values and zeros
        let r = 0;
        for (; j + r + 4 <= nc; r += 4) v128.store(dst + <usize>r * 4, v128.load(src + <usize>(j + r) * 4));
        for (; r < NR; r++) store<f32>(dst + <usize>r * 4, j + r < nc ? load<f32>(src + <usize>(j + r) * 4) : 0);
      }
    }
  }
}

/**
 * packA[(r/MR)·kc·AS + q·AS + r%MR] = op(A)[ic+r, pc+q] for the panels of rows
 * ic..ic+mc−1. The rows past mc (and past MR in 4×8's vector) hold whatever row
 * they load (indices are clamped to m−1, so nothing is read outside A): their
 * products land only in the tile rows that are never stored.
 */
function packABlock(ic: i32, mc: i32, pc: i32, kc: i32): void {
  const m = jobM, k = jobK, A = jobA;
  const panels = (mc + MR - 1) / MR;
  for (let p = 0; p < panels; p++) {
    const i0 = ic + p * MR;
    const dst = packA + <usize>(p * kc * AS) * 4;
    if (jobTransA) {
      // A is k×m: the panel's rows at step q are 4 consecutive floats of row pc+q
      let src = A + <usize>(pc * m + i0) * 4;
      const rowBytes = <usize>m * 4;
      if (i0 + 4 <= m) {
        for (let q = 0; q < kc; q++) {
          v128.store(dst + <usize>(q * AS) * 4, v128.load(src));
          src += rowBytes;
        }
      } else {
        for (let q = 0; q < kc; q++) {
          for (let t = 0; t < 4; t++) store<f32>(dst + <usize>(q * AS + t) * 4, load<f32>(src + <usize>(min(i0 + t, m - 1) - i0) * 4));
          src += rowBytes;
        }
      }
      if (MR > 4) {
        let s4 = A + <usize>(pc * m + min(i0 + 4, m - 1)) * 4;
        for (let q = 0; q < kc; q++) {
          store<f32>(dst + <usize>(q * AS + 4) * 4, load<f32>(s4));
          s4 += rowBytes;
        }
      }
    } else {
      // A is m×k: 4 rows × 4 steps are transposed in registers
      const r0 = A + <usize>(i0 * k + pc) * 4;
      const r1 = A + <usize>(min(i0 + 1, m - 1) * k + pc) * 4;
      const r2 = A + <usize>(min(i0 + 2, m - 1) * k + pc) * 4;
      const r3 = A + <usize>(min(i0 + 3, m - 1) * k + pc) * 4;
      const r4 = A + <usize>(min(i0 + 4, m - 1) * k + pc) * 4;
      let q = 0;
      for (; q + 4 <= kc; q += 4) {
        const o = <usize>q * 4;
        const d = dst + <usize>(q * AS) * 4;
        if (MR > 4) {
          // row 4's 4 steps, one vector stored 4 times: the store for step q+t
          // starts t lanes early, so its lane t lands in lane 4 of that step;
          // the lanes before it are overwritten by the transpose below
          const v4 = v128.load(r4 + o);
          v128.store(d, v4, 16); v128.store(d, v4, AS * 4 + 12);
          v128.store(d, v4, 2 * AS * 4 + 8); v128.store(d, v4, 3 * AS * 4 + 4);
        }
        transpose4Store(v128.load(r0 + o), v128.load(r1 + o), v128.load(r2 + o), v128.load(r3 + o), d, <usize>AS * 4);
      }
      for (; q < kc; q++) {
        const o = <usize>q * 4;
        const d = dst + <usize>(q * AS) * 4;
        store<f32>(d, load<f32>(r0 + o)); store<f32>(d, load<f32>(r1 + o), 4);
        store<f32>(d, load<f32>(r2 + o), 8); store<f32>(d, load<f32>(r3 + o), 12);
        if (MR > 4) store<f32>(d, load<f32>(r4 + o), 16);
      }
    }
  }
}

/** Stores the columns of the 4×4 block with rows r0..r3 as 4 vectors, `stride` bytes apart from dst. */
@inline function transpose4Store(r0: v128, r1: v128, r2: v128, r3: v128, dst: usize, stride: usize): void {
  const t0 = v128.shuffle<f32>(r0, r1, 0, 4, 1, 5), t1 = v128.shuffle<f32>(r2, r3, 0, 4, 1, 5);
  const t2 = v128.shuffle<f32>(r0, r1, 2, 6, 3, 7), t3 = v128.shuffle<f32>(r2, r3, 2, 6, 3, 7);
  v128.store(dst, v128.shuffle<f32>(t0, t1, 0, 1, 4, 5));
  v128.store(dst + stride, v128.shuffle<f32>(t0, t1, 2, 3, 6, 7));
  v128.store(dst + 2 * stride, v128.shuffle<f32>(t2, t3, 0, 1, 4, 5));
  v128.store(dst + 3 * stride, v128.shuffle<f32>(t2, t3, 2, 3, 6, 7));
}

/**
 * The 5×8 block of C at (i, j), rows×cols of it inside C, over one KC slice
 * (relaxed-SIMD build). 10 accumulators + 2 B vectors + the A vector + one
 * broadcast + row 4's broadcast = 15 xmm registers, all V8 hands out (it keeps
 * one of the 16 as scratch). Rows 0–3 are broadcast from one loaded A vector by
 * shuffles because TurboFan schedules a loop's loads first and its pure
 * arithmetic late: five load32_splat broadcasts would all be live at once
 * (17 registers, spills), while each shuffle is placed just before its two
 * fused multiply-adds. 10 independent chains hide the FMA latency better than
 * 3×12's 9.
 */
@inline function kernel5x8(kc: i32, ap: usize, bp: usize, i: i32, j: i32, rows: i32, cols: i32, first: bool, last: bool): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
  let c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0);
  let c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  let c40 = f32x4.splat(0), c41 = f32x4.splat(0);
  // a pointer bound instead of a counter: one add fewer per k step
  const bEnd = bp + <usize>(kc * NR * 4);
  while (bp < bEnd) {
    const b0 = v128.load(bp);
    const b1 = v128.load(bp, 16);
    const av = v128.load(ap);
    let a = i32x4.shuffle(av, av, 0, 0, 0, 0);
    c00 = madd(a, b0, c00); c01 = madd(a, b1, c01);
    a = i32x4.shuffle(av, av, 1, 1, 1, 1);
    c10 = madd(a, b0, c10); c11 = madd(a, b1, c11);
    a = i32x4.shuffle(av, av, 2, 2, 2, 2);
    c20 = madd(a, b0, c20); c21 = madd(a, b1, c21);
    a = i32x4.shuffle(av, av, 3, 3, 3, 3);
    c30 = madd(a, b0, c30); c31 = madd(a, b1, c31);
    a = v128.load32_splat(ap, 16);
    c40 = madd(a, b0, c40); c41 = madd(a, b1, c41);
    ap += AS * 4;
    bp += NR * 4;
  }
  const loadC = !first || jobAccumulate;
  if (rows == MR && cols == NR) {
    const rowBytes = <usize>jobN * 4;
    let c = jobC + <usize>(i * jobN + j) * 4;
    storeVec(c, c00, j, loadC, last); storeVec(c + 16, c01, j + 4, loadC, last);
    c += rowBytes;
    storeVec(c, c10, j, loadC, last); storeVec(c + 16, c11, j + 4, loadC, last);
    c += rowBytes;
    storeVec(c, c20, j, loadC, last); storeVec(c + 16, c21, j + 4, loadC, last);
    c += rowBytes;
    storeVec(c, c30, j, loadC, last); storeVec(c + 16, c31, j + 4, loadC, last);
    c += rowBytes;
    storeVec(c, c40, j, loadC, last); storeVec(c + 16, c41, j + 4, loadC, last);
  } else {
    const t = tileBuf;
    v128.store(t, c00); v128.store(t, c01, 16);
    v128.store(t, c10, 32); v128.store(t, c11, 48);
    v128.store(t, c20, 64); v128.store(t, c21, 80);
    v128.store(t, c30, 96); v128.store(t, c31, 112);
    v128.store(t, c40, 128); v128.store(t, c41, 144);
    storeEdge(t, i, j, rows, cols, loadC, last);
  }
}

/**
 * The 4×8 block (plain-SIMD build): a multiply and an add need a temporary
 * register, so 3×12 spilled here; 8 accumulators + 2 B vectors + 4
 * broadcasts + 1 temporary fit.
 */
@inline function kernel4x8(kc: i32, ap: usize, bp: usize, i: i32, j: i32, rows: i32, cols: i32, first: bool, last: bool): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
  let c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0);
  let c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  // a pointer bound instead of a counter: one add fewer per k step
  const bEnd = bp + <usize>(kc * NR * 4);
  while (bp < bEnd) {
    const b0 = v128.load(bp);
    const b1 = v128.load(bp, 16);
    let a = v128.load32_splat(ap);
    c00 = madd(a, b0, c00); c01 = madd(a, b1, c01);
    a = v128.load32_splat(ap, 4);
    c10 = madd(a, b0, c10); c11 = madd(a, b1, c11);
    a = v128.load32_splat(ap, 8);
    c20 = madd(a, b0, c20); c21 = madd(a, b1, c21);
    a = v128.load32_splat(ap, 12);
    c30 = madd(a, b0, c30); c31 = madd(a, b1, c31);
    ap += AS * 4;
    bp += 32;
  }
  const loadC = !first || jobAccumulate;
  if (rows == MR && cols == NR) {
    const rowBytes = <usize>jobN * 4;
    let c = jobC + <usize>(i * jobN + j) * 4;
    storeVec(c, c00, j, loadC, last); storeVec(c + 16, c01, j + 4, loadC, last);
    c += rowBytes;
    storeVec(c, c10, j, loadC, last); storeVec(c + 16, c11, j + 4, loadC, last);
    c += rowBytes;
    storeVec(c, c20, j, loadC, last); storeVec(c + 16, c21, j + 4, loadC, last);
    c += rowBytes;
    storeVec(c, c30, j, loadC, last); storeVec(c + 16, c31, j + 4, loadC, last);
  } else {
    const t = tileBuf;
    v128.store(t, c00); v128.store(t, c01, 16);
    v128.store(t, c10, 32); v128.store(t, c11, 48);
    v128.store(t, c20, 64); v128.store(t, c21, 80);
    v128.store(t, c30, 96); v128.store(t, c31, 112);
    storeEdge(t, i, j, rows, cols, loadC, last);
  }
}

/**
 * An MR-row tile at most 4 columns wide: the same loop over the same packed
 * panels as the full kernels, without the padding columns' multiply-adds.
 */
@inline function kernelNarrow(kc: i32, ap: usize, bp: usize, i: i32, j: i32, rows: i32, cols: i32, first: bool, last: bool): void {
  let c0 = f32x4.splat(0), c1 = f32x4.splat(0), c2 = f32x4.splat(0), c3 = f32x4.splat(0), c4 = f32x4.splat(0);
  const bEnd = bp + <usize>(kc * NR * 4);
  while (bp < bEnd) {
    const b = v128.load(bp);
    c0 = madd(v128.load32_splat(ap), b, c0);
    c1 = madd(v128.load32_splat(ap, 4), b, c1);
    c2 = madd(v128.load32_splat(ap, 8), b, c2);
    c3 = madd(v128.load32_splat(ap, 12), b, c3);
    if (MR > 4) c4 = madd(v128.load32_splat(ap, 16), b, c4);
    ap += AS * 4;
    bp += NR * 4;
  }
  const t = tileBuf, row = <usize>NR * 4;
  v128.store(t, c0); v128.store(t + row, c1); v128.store(t + 2 * row, c2); v128.store(t + 3 * row, c3);
  if (MR > 4) v128.store(t + 4 * row, c4);
  storeEdge(t, i, j, rows, cols, !first || jobAccumulate, last);
}

/**
 * The epilogue of 4 outputs of C at c (columns col..col+3). The first slice
 * starts from C (accumulate) or 0, later slices add to C, the last adds bias
 * and applies the activation; alpha scales each slice's product.
 */
@inline function storeVec(c: usize, v: v128, col: i32, loadC: bool, last: bool): void {
  let r = f32x4.mul(v, f32x4.splat(jobAlpha));
  if (loadC) r = f32x4.add(v128.load(c), r);
  if (last) {
    if (jobBias != 0) r = f32x4.add(r, v128.load(jobBias + <usize>col * 4));
    if (jobAct != ACT_IDENTITY) r = activation4(r, jobAct);
  }
  v128.store(c, r);
}

/** The epilogue, one element at a time, for a tile clipped by the edge of C. */
function storeEdge(t: usize, i: i32, j: i32, rows: i32, cols: i32, loadC: bool, last: bool): void {
  const n = jobN;
  const alpha = jobAlpha;
  for (let r = 0; r < rows; r++) {
    const c = jobC + <usize>((i + r) * n + j) * 4;
    for (let s = 0; s < cols; s++) {
      let v = alpha * load<f32>(t + <usize>(r * NR + s) * 4);
      if (loadC) v += load<f32>(c + <usize>s * 4);
      if (last) {
        if (jobBias != 0) v += load<f32>(jobBias + <usize>(j + s) * 4);
        if (jobAct != ACT_IDENTITY) v = f32x4.extract_lane(activation4(f32x4.splat(v), jobAct), 0);
      }
      store<f32>(c + <usize>s * 4, v);
    }
  }
}
