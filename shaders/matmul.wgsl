// matmul: C[b] = act(alpha · op(A[b]) · op(B[b]) + bias) (+ C[b] when ACCUMULATE).
// Row-major; op(A) is m×k (A stored k×m when TRANS_A), op(B) is k×n (B stored n×k
// when TRANS_B); batch b is workgroup z, offsets b·stride (stride 0 broadcasts).
//
// Two variants, chosen per adapter by measurement (src/gpu/ops/matmul.ts):
//   matmulVec4  — register-blocked, no workgroup memory or barriers: each invocation
//                 computes a 4×4 block of C as four vec4 rows, from one vec4 column of
//                 op(A) and one vec4 row of op(B) per k step. Fast on CPU adapters
//                 (llvmpipe, SwiftShader), where barriers are expensive.
//   matmulTiled — 64×64 output tile per 16×16 workgroup staged through workgroup
//                 memory in k-slices of 16; each invocation owns a strided 4×4 set of
//                 outputs (row ty+16i, column tx+16j) so neighbouring invocations touch
//                 neighbouring addresses. What wins on real GPUs.
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

/**
 * matmulVec4 for m, n, k and all offsets multiples of 4: operands are read as
 * vec4 (4× fewer load instructions — on llvmpipe each load with a per-lane address
 * is a loop over the SIMD lanes). Per k step of 4 it loads a 4×4 block of op(A)
 * and of op(B) as four vec4 each (rows or columns, whichever is contiguous) and
 * multiplies them as 4×4 matrices: accT column i is row i of the C block.
 */
@compute @workgroup_size(WG_X, WG_Y, 1)
fn matmulVec4Aligned(@builtin(global_invocation_id) gid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  let c0 = gid.x * 4u;
  let r0 = gid.y * 4u;
  if (c0 >= P.n || r0 >= P.m) { return; }
  let aOff = (wid.z * P.strideA) / 4u;
  let bOff = (wid.z * P.strideB) / 4u;
  let cOff = wid.z * P.strideC;
  let m4 = P.m / 4u;
  let n4 = P.n / 4u;
  let k4 = P.k / 4u;
  var accT = mat4x4f();
  for (var q4 = 0u; q4 < k4; q4++) {
    var blockA: mat4x4f;  // columns: rows r0..r0+3 of op(A) over k-steps q..q+3
    if (TRANS_A) {
      // A is k×m: a vec4 holds 4 rows of op(A) at one k
      let i = aOff + 4u * q4 * m4 + gid.y;
      blockA = transpose(mat4x4f(a4[i], a4[i + m4], a4[i + 2u * m4], a4[i + 3u * m4]));
    } else {
      let i = aOff + r0 * k4 + q4;
      blockA = mat4x4f(a4[i], a4[i + k4], a4[i + 2u * k4], a4[i + 3u * k4]);
    }
    var blockB: mat4x4f;  // columns: rows q..q+3 of op(B) over columns c0..c0+3
    if (TRANS_B) {
      // B is n×k: a vec4 holds 4 k-steps of one column of op(B)
      let i = bOff + c0 * k4 + q4;
      blockB = transpose(mat4x4f(b4[i], b4[i + k4], b4[i + 2u * k4], b4[i + 3u * k4]));
    } else {
      let i = bOff + 4u * q4 * n4 + gid.x;
      blockB = mat4x4f(b4[i], b4[i + n4], b4[i + 2u * n4], b4[i + 3u * n4]);
    }
    accT += blockB * blockA;
  }
  storeRow(cOff, r0, c0, accT[0]);
  storeRow(cOff, r0 + 1u, c0, accT[1]);
  storeRow(cOff, r0 + 2u, c0, accT[2]);
  storeRow(cOff, r0 + 3u, c0, accT[3]);
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
