// matmul: C[b] = act(alpha · op(A[b]) · op(B[b]) + bias) (+ C[b] when ACCUMULATE).
// Row-major; op(A) is m×k (A stored k×m when TRANS_A), op(B) is k×n (B stored n×k
// when TRANS_B); batch b is workgroup z, offsets b·stride (stride 0 broadcasts).
//
// Three variants here and a generated fourth (src/gpu/ops/matmulUnrolled.ts), chosen
// per adapter by measurement (src/gpu/ops/matmul.ts; figures in docs/kernels-results.md §2):
//   matmulVec4  — register-blocked, no workgroup memory or barriers: each invocation
//                 computes a 4×4 block of C as four vec4 rows, from one vec4 column of
//                 op(A) and one vec4 row of op(B) per k step. Fast on CPU adapters
//                 (llvmpipe, SwiftShader), where barriers are expensive.
//   matmulTiled — 64×64 output tile per 16×16 workgroup staged through workgroup
//                 memory in k-slices of 16; each invocation owns a strided 4×4 set of
//                 outputs (row ty+16i, column tx+16j) so neighbouring invocations touch
//                 neighbouring addresses. What wins on real GPUs.
//   matmulTexture — 16×16 outputs per invocation from operands staged in textures
//                 (aligned shapes; see its section below). Wins on llvmpipe.
// Ragged m, n, k: vec4 clamps edge indices into range (results discarded at the
// store); tiled zero-fills out-of-range tile entries. Nothing reads out of bounds.

override TRANS_A: bool = false;
override TRANS_B: bool = false;
/** 0 identity, 1 relu, 2 tanh, 3 sigmoid */
override ACT: u32 = 0u;
override ACCUMULATE: bool = false;
override HAS_BIAS: bool = false;
override WG_X: u32 = 8u;
override WG_Y: u32 = 8u;

struct MatmulParams {
  m: u32, n: u32, k: u32,
  strideA: u32, strideB: u32, strideC: u32,
  alpha: f32,
}

@group(0) @binding(0) var<uniform> P: MatmulParams;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
/** length ≥ n when HAS_BIAS; otherwise a placeholder that is never read */
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> c: array<f32>;

fn activate(x: f32) -> f32 {
  switch ACT {
    case 1u: { return max(x, 0.0); }
    case 2u: {
      // tanh from exp(−2|x|): never overflows, unlike (e^2x − 1)/(e^2x + 1)
      let e = exp(-2.0 * abs(x));
      return sign(x) * (1.0 - e) / (1.0 + e);
    }
    case 3u: {
      let e = exp(-abs(x));
      return select(e / (1.0 + e), 1.0 / (1.0 + e), x >= 0.0);
    }
    default: { return x; }
  }
}

/** The epilogue for C[cOff + row·n + col]. */
fn storeC(cOff: u32, row: u32, col: u32, sum: f32) {
  var v = P.alpha * sum;
  if (HAS_BIAS) { v += bias[col]; }
  v = activate(v);
  let i = cOff + row * P.n + col;
  if (ACCUMULATE) { v += c[i]; }
  c[i] = v;
}

fn storeRow(cOff: u32, row: u32, c0: u32, v: vec4f) {
  if (row >= P.m) { return; }
  for (var j = 0u; j < 4u; j++) {
    if (c0 + j < P.n) { storeC(cOff, row, c0 + j, v[j]); }
  }
}

/** C and the bias as vec4 (n and C's batch stride multiples of 4) */
@group(0) @binding(9) var<storage, read_write> c4: array<vec4f>;
@group(0) @binding(10) var<storage, read> bias4: array<vec4f>;

/**
 * The epilogue for the 4 outputs C[row, col4·4 .. col4·4 + 3], one vec4 store: on
 * llvmpipe each storage access is a loop over the SIMD lanes, so one vec4 store
 * costs about what one scalar store does.
 */
fn storeVec4(cOff4: u32, row: u32, col4: u32, sum: vec4f) {
  let n4 = P.n / 4u;
  if (row >= P.m || col4 >= n4) { return; }
  var v = P.alpha * sum;
  if (HAS_BIAS) { v += bias4[col4]; }
  if (ACT != 0u) { v = vec4f(activate(v.x), activate(v.y), activate(v.z), activate(v.w)); }
  let i = cOff4 + row * n4 + col4;
  if (ACCUMULATE) { v += c4[i]; }
  c4[i] = v;
}

@compute @workgroup_size(WG_X, WG_Y, 1)
fn matmulVec4(@builtin(global_invocation_id) gid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  let c0 = gid.x * 4u;
  let r0 = gid.y * 4u;
  if (c0 >= P.n || r0 >= P.m) { return; }
  let aOff = wid.z * P.strideA;
  let bOff = wid.z * P.strideB;
  let cOff = wid.z * P.strideC;
  let lane = vec4u(0u, 1u, 2u, 3u);
  // edge blocks repeat the last row/column: in-bounds loads, results not stored
  let rows = min(vec4u(r0) + lane, vec4u(P.m - 1u));
  let cols = min(vec4u(c0) + lane, vec4u(P.n - 1u));
  // element (row, q) of op(A) is a[ai + q·aStep]; (q, col) of op(B) is b[bi + q·bStep]
  var ai: vec4u;
  var aStep: u32;
  if (TRANS_A) { ai = vec4u(aOff) + rows; aStep = P.m; } else { ai = vec4u(aOff) + rows * P.k; aStep = 1u; }
  var bi: vec4u;
  var bStep: u32;
  if (TRANS_B) { bi = vec4u(bOff) + cols * P.k; bStep = 1u; } else { bi = vec4u(bOff) + cols; bStep = P.n; }

  var acc0 = vec4f(0.0);
  var acc1 = vec4f(0.0);
  var acc2 = vec4f(0.0);
  var acc3 = vec4f(0.0);
  for (var q = 0u; q < P.k; q++) {
    let av = vec4f(a[ai.x], a[ai.y], a[ai.z], a[ai.w]);
    let bv = vec4f(b[bi.x], b[bi.y], b[bi.z], b[bi.w]);
    acc0 = fma(vec4f(av.x), bv, acc0);
    acc1 = fma(vec4f(av.y), bv, acc1);
    acc2 = fma(vec4f(av.z), bv, acc2);
    acc3 = fma(vec4f(av.w), bv, acc3);
    ai += vec4u(aStep);
    bi += vec4u(bStep);
  }
  storeRow(cOff, r0, c0, acc0);
  storeRow(cOff, r0 + 1u, c0, acc1);
  storeRow(cOff, r0 + 2u, c0, acc2);
  storeRow(cOff, r0 + 3u, c0, acc3);
}

@group(0) @binding(5) var<storage, read> a4: array<vec4f>;
@group(0) @binding(6) var<storage, read> b4: array<vec4f>;

/** matmulVec4Aligned: 4×4 blocks of C per invocation along rows (1 or 2) and columns (1 or 2) */
override ALIGNED_ROW_BLOCKS: u32 = 1u;
override ALIGNED_COL_BLOCKS: u32 = 1u;

/** Rows r0..r0+3 of op(A) over k-steps 4q4..4q4+3, as the columns of a 4×4 matrix (offsets in vec4). */
fn blockOfA(aOff: u32, r0: u32, q4: u32, m4: u32, k4: u32) -> mat4x4f {
  if (TRANS_A) {
    // A is k×m: a vec4 holds 4 rows of op(A) at one k
    let i = aOff + 4u * q4 * m4 + r0 / 4u;
    return transpose(mat4x4f(a4[i], a4[i + m4], a4[i + 2u * m4], a4[i + 3u * m4]));
  }
  let i = aOff + r0 * k4 + q4;
  return mat4x4f(a4[i], a4[i + k4], a4[i + 2u * k4], a4[i + 3u * k4]);
}

/** Rows 4q4..4q4+3 of op(B) over columns c0..c0+3, as the columns of a 4×4 matrix. */
fn blockOfB(bOff: u32, c0: u32, q4: u32, n4: u32, k4: u32) -> mat4x4f {
  if (TRANS_B) {
    // B is n×k: a vec4 holds 4 k-steps of one column of op(B)
    let i = bOff + c0 * k4 + q4;
    return transpose(mat4x4f(b4[i], b4[i + k4], b4[i + 2u * k4], b4[i + 3u * k4]));
  }
  let i = bOff + 4u * q4 * n4 + c0 / 4u;
  return mat4x4f(b4[i], b4[i + n4], b4[i + 2u * n4], b4[i + 3u * n4]);
}

/** A 4×4 block of C (accT column i = row r0 + i), as vec4 stores (cOff4, c04 in vec4). */
fn storeBlock4(cOff4: u32, r0: u32, c04: u32, accT: mat4x4f) {
  storeVec4(cOff4, r0, c04, accT[0]);
  storeVec4(cOff4, r0 + 1u, c04, accT[1]);
  storeVec4(cOff4, r0 + 2u, c04, accT[2]);
  storeVec4(cOff4, r0 + 3u, c04, accT[3]);
}

/**
 * matmulVec4 for m, n, k and all offsets (C's too) multiples of 4: operands are read
 * and C written as vec4 (4× fewer load and store instructions — on llvmpipe each load with a per-lane address
 * is a loop over the SIMD lanes). Per k step of 4 it loads 4×4 blocks of op(A)
 * and of op(B) as four vec4 each (rows or columns, whichever is contiguous) and
 * multiplies them as 4×4 matrices: accT column i is row i of a C block. With 2×2
 * blocks (8×8 outputs) each loaded block feeds two products, which pays on
 * SwiftShader: its JIT keeps these named matrices in registers, unlike arrays
 * indexed in loops. Second blocks past m or n are computed on the last in-range
 * block and not stored.
 */
@compute @workgroup_size(WG_X, WG_Y, 1)
fn matmulVec4Aligned(@builtin(global_invocation_id) gid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  let c0 = gid.x * 4u * ALIGNED_COL_BLOCKS;
  let r0 = gid.y * 4u * ALIGNED_ROW_BLOCKS;
  if (c0 >= P.n || r0 >= P.m) { return; }
  let aOff = (wid.z * P.strideA) / 4u;
  let bOff = (wid.z * P.strideB) / 4u;
  let cOff4 = wid.z * P.strideC / 4u;
  let m4 = P.m / 4u;
  let n4 = P.n / 4u;
  let k4 = P.k / 4u;
  // second blocks past m or n load the last in-range block instead (results not stored):
  // no data-dependent branch in the loop
  let r1 = min(r0 + 4u, P.m - 4u);
  let c1 = min(c0 + 4u, P.n - 4u);
  var acc00 = mat4x4f();
  var acc01 = mat4x4f();
  var acc10 = mat4x4f();
  var acc11 = mat4x4f();
  for (var q4 = 0u; q4 < k4; q4++) {
    let blockA0 = blockOfA(aOff, r0, q4, m4, k4);
    let blockB0 = blockOfB(bOff, c0, q4, n4, k4);
    acc00 += blockB0 * blockA0;
    if (ALIGNED_COL_BLOCKS > 1u) {
      let blockB1 = blockOfB(bOff, c1, q4, n4, k4);
      acc01 += blockB1 * blockA0;
      if (ALIGNED_ROW_BLOCKS > 1u) {
        let blockA1 = blockOfA(aOff, r1, q4, m4, k4);
        acc10 += blockB0 * blockA1;
        acc11 += blockB1 * blockA1;
      }
    } else if (ALIGNED_ROW_BLOCKS > 1u) {
      acc10 += blockB0 * blockOfA(aOff, r1, q4, m4, k4);
    }
  }
  let rows2 = ALIGNED_ROW_BLOCKS > 1u && r0 + 4u < P.m;
  let cols2 = ALIGNED_COL_BLOCKS > 1u && c0 + 4u < P.n;
  storeBlock4(cOff4, r0, c0 / 4u, acc00);
  if (cols2) { storeBlock4(cOff4, r0, c0 / 4u + 1u, acc01); }
  if (rows2) { storeBlock4(cOff4, r0 + 4u, c0 / 4u, acc10); }
  if (rows2 && cols2) { storeBlock4(cOff4, r0 + 4u, c0 / 4u + 1u, acc11); }
}

const TS: u32 = 16u;      // invocations per tile side
const TILE: u32 = 64u;    // outputs per tile side (TS · 4)
const TK: u32 = 16u;      // k-slice staged per step
/** tileA[q·TILE + r] = op(A)[tileRow + r, k0 + q] */
var<workgroup> tileA: array<f32, 1024>;
/** tileB[q·TILE + col] = op(B)[k0 + q, tileCol + col] */
var<workgroup> tileB: array<f32, 1024>;

@compute @workgroup_size(16, 16, 1)
fn matmulTiled(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  let tx = lid.x;
  let ty = lid.y;
  let t = ty * TS + tx;
  let rowBase = wid.y * TILE;
  let colBase = wid.x * TILE;
  let aOff = wid.z * P.strideA;
  let bOff = wid.z * P.strideB;
  let cOff = wid.z * P.strideC;
  var acc: array<vec4f, 4>;
  for (var i = 0u; i < 4u; i++) { acc[i] = vec4f(0.0); }

  for (var k0 = 0u; k0 < P.k; k0 += TK) {
    // each invocation stages 4 of the 1024 entries of each tile, walking memory contiguously
    for (var l = 0u; l < 4u; l++) {
      let e = t + l * TS * TS;
      var r: u32;
      var q: u32;
      if (TRANS_A) { r = e % TILE; q = e / TILE; } else { q = e % TK; r = e / TK; }
      let row = rowBase + r;
      let kk = k0 + q;
      var v = 0.0;
      if (row < P.m && kk < P.k) {
        if (TRANS_A) { v = a[aOff + kk * P.m + row]; } else { v = a[aOff + row * P.k + kk]; }
      }
      tileA[q * TILE + r] = v;

      var cc: u32;
      var qb: u32;
      if (TRANS_B) { qb = e % TK; cc = e / TK; } else { cc = e % TILE; qb = e / TILE; }
      let col = colBase + cc;
      let kb = k0 + qb;
      var w = 0.0;
      if (col < P.n && kb < P.k) {
        if (TRANS_B) { w = b[bOff + col * P.k + kb]; } else { w = b[bOff + kb * P.n + col]; }
      }
      tileB[qb * TILE + cc] = w;
    }
    workgroupBarrier();
    for (var q = 0u; q < TK; q++) {
      let bv = vec4f(tileB[q * TILE + tx], tileB[q * TILE + tx + 16u],
                     tileB[q * TILE + tx + 32u], tileB[q * TILE + tx + 48u]);
      for (var i = 0u; i < 4u; i++) {
        acc[i] = fma(vec4f(tileA[q * TILE + ty + i * TS]), bv, acc[i]);
      }
    }
    workgroupBarrier();
  }

  for (var i = 0u; i < 4u; i++) {
    let row = rowBase + ty + i * TS;
    if (row < P.m) {
      for (var j = 0u; j < 4u; j++) {
        let col = colBase + tx + j * TS;
        if (col < P.n) { storeC(cOff, row, col, acc[i][j]); }
      }
    }
  }
}

// ---- matmulTexture: large register blocks read from textures ------------------
//
// On llvmpipe a storage-buffer load costs far more than an FMA (a per-lane loop for
// every loaded component) and a texel fetch of 4 floats much less than one scalar
// load (docs/kernels-results.md §2). So the operands are copied into textures
// (src/gpu/ops/matmul.ts) and each invocation keeps a BLOCK_ROWS × 4·BLOCK_COLS4 block of C (16×16 by
// default): per k step of 4 it fetches BLOCK_ROWS texels of op(A) and 4·BLOCK_COLS4
// of op(B) for 16·BLOCK_ROWS·BLOCK_COLS4 FMAs. Needs m, n, k and the batch strides
// multiples of 4, and BLOCK_ROWS a multiple of 4 with TRANS_A. The accumulator
// arrays have exactly the largest block: with larger arrays, or fewer rows used,
// llvmpipe's compiler stops keeping them in registers, and helper functions taking
// them by pointer were far slower, hence the inlined loops. SwiftShader's JIT keeps
// none of this in registers: there other variants win.
// Rows/columns past m/n in an edge block read other texels (in-range data, or past
// the copied part, which WGSL defines as some in-bounds texel or 0); their results
// are never stored.

override BLOCK_ROWS: u32 = 16u;
override BLOCK_COLS4: u32 = 4u;
const MAX_BLOCK_ROWS: u32 = 16u;
const MAX_BLOCK_COLS4: u32 = 4u;
/** texels per texture row: the texture is a flat array, texel i at (i mod 1024, i div 1024) */
const TEX_WIDTH_LOG2: u32 = 10u;

alias BlockAcc = array<array<vec4f, MAX_BLOCK_COLS4>, MAX_BLOCK_ROWS>;
/** rows q..q+3 of op(B) over the block's vec4 columns */
alias BlockB = array<array<vec4f, MAX_BLOCK_COLS4>, 4>;

@group(0) @binding(7) var texA: texture_2d<f32>;
@group(0) @binding(8) var texB: texture_2d<f32>;

fn texel(t: texture_2d<f32>, i: u32) -> vec4f {
  return textureLoad(t, vec2u(i & ((1u << TEX_WIDTH_LOG2) - 1u), i >> TEX_WIDTH_LOG2), 0);
}

@compute @workgroup_size(WG_X, WG_Y, 1)
fn matmulTexture(@builtin(global_invocation_id) gid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  let q0 = gid.x * BLOCK_COLS4;
  let r0 = gid.y * BLOCK_ROWS;
  if (q0 * 4u >= P.n || r0 >= P.m) { return; }
  let aOff = (wid.z * P.strideA) / 4u;
  let bOff = (wid.z * P.strideB) / 4u;
  let m4 = P.m / 4u;
  let n4 = P.n / 4u;
  let k4 = P.k / 4u;
  var acc: BlockAcc;  // acc[i][t] = C[r0 + i, 4(q0 + t) .. 4(q0 + t) + 3]
  for (var q4 = 0u; q4 < k4; q4++) {
    var bq: BlockB;
    for (var t = 0u; t < BLOCK_COLS4; t++) {
      if (TRANS_B) {
        let i = bOff + 4u * (q0 + t) * k4 + q4;
        let s0 = texel(texB, i);
        let s1 = texel(texB, i + k4);
        let s2 = texel(texB, i + 2u * k4);
        let s3 = texel(texB, i + 3u * k4);
        bq[0][t] = vec4f(s0.x, s1.x, s2.x, s3.x);
        bq[1][t] = vec4f(s0.y, s1.y, s2.y, s3.y);
        bq[2][t] = vec4f(s0.z, s1.z, s2.z, s3.z);
        bq[3][t] = vec4f(s0.w, s1.w, s2.w, s3.w);
      } else {
        for (var j = 0u; j < 4u; j++) { bq[j][t] = texel(texB, bOff + (4u * q4 + j) * n4 + q0 + t); }
      }
    }
    if (TRANS_A) {
      // A is k×m: a vec4 holds 4 rows of op(A) at one k; at[4j + g] = rows r0+4g..r0+4g+3 at k-step 4q4+j
      var at: array<vec4f, MAX_BLOCK_ROWS>;
      for (var j = 0u; j < 4u; j++) {
        for (var g = 0u; g < BLOCK_ROWS / 4u; g++) { at[4u * j + g] = texel(texA, aOff + (4u * q4 + j) * m4 + r0 / 4u + g); }
      }
      for (var i = 0u; i < BLOCK_ROWS; i++) {
        let g = i / 4u;
        let e = i % 4u;
        let aRow = vec4f(at[g][e], at[4u + g][e], at[8u + g][e], at[12u + g][e]);
        for (var t = 0u; t < BLOCK_COLS4; t++) {
          acc[i][t] = fma(vec4f(aRow.w), bq[3][t], fma(vec4f(aRow.z), bq[2][t],
                      fma(vec4f(aRow.y), bq[1][t], fma(vec4f(aRow.x), bq[0][t], acc[i][t]))));
        }
      }
    } else {
      for (var i = 0u; i < BLOCK_ROWS; i++) {
        let aRow = texel(texA, aOff + (r0 + i) * k4 + q4);
        for (var t = 0u; t < BLOCK_COLS4; t++) {
          acc[i][t] = fma(vec4f(aRow.w), bq[3][t], fma(vec4f(aRow.z), bq[2][t],
                      fma(vec4f(aRow.y), bq[1][t], fma(vec4f(aRow.x), bq[0][t], acc[i][t]))));
        }
      }
    }
  }
  for (var i = 0u; i < BLOCK_ROWS; i++) {
    for (var t = 0u; t < BLOCK_COLS4; t++) { storeVec4(wid.z * P.strideC / 4u, r0 + i, q0 + t, acc[i][t]); }
  }
}
