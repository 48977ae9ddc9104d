// matmulUnrolled: the prelude of a matmul whose entry point is generated, fully
// unrolled, by src/gpu/ops/matmulUnrolled.ts (one per block shape and transpose
// pair). Same contract as shaders/matmul.wgsl: C[b] = act(alpha · op(A[b]) · op(B[b])
// + bias) (+ C[b]), row-major, for m, n, k and the batch strides multiples of 4.
//
// Why generated: SwiftShader (Subzero JIT) keeps a shader's named vec4 values in
// registers or fixed stack slots, but indexes arrays through memory on every use,
// and every storage load there is a per-lane gather whatever its width. So each
// invocation owns BLOCK_ROWS × 4·BLOCK_COLS4 outputs (16×16 by default) as named
// vec4 accumulators, and per k-step of 4 loads BLOCK_ROWS vec4 of op(A) and
// 4·BLOCK_COLS4 vec4 of op(B): 8 FMAs per loaded float at 16×16, against 4 for
// the 8×8 matmulVec4Aligned. Measured ~1.7× the work per CPU-second of
// matmulVec4Aligned at 512³ on SwiftShader (bench/kernels.ts).

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
@group(0) @binding(1) var<storage, read> a4: array<vec4f>;
@group(0) @binding(2) var<storage, read> b4: array<vec4f>;
/** length ≥ n when HAS_BIAS; otherwise a placeholder that is never read */
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> c4: array<vec4f>;

fn activate1(x: f32) -> f32 {
  switch ACT {
    case 1u: { return max(x, 0.0); }
    case 2u: {
      // tanh from exp(−2|x|): never overflows
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

/** Stores the 4 outputs C[row, 4·col4 .. 4·col4 + 3] (offsets in vec4); rows and columns past m, n are dropped. */
fn epilogue(cOff4: u32, row: u32, col4: u32, sum: vec4f) {
  let n4 = P.n / 4u;
  if (row >= P.m || col4 >= n4) { return; }
  var v = P.alpha * sum;
  if (HAS_BIAS) {
    let j = 4u * col4;
    v += vec4f(bias[j], bias[j + 1u], bias[j + 2u], bias[j + 3u]);
  }
  if (ACT != 0u) { v = vec4f(activate1(v.x), activate1(v.y), activate1(v.z), activate1(v.w)); }
  let i = cOff4 + row * n4 + col4;
  if (ACCUMULATE) { v += c4[i]; }
  c4[i] = v;
}

// @generated entry point follows (src/gpu/ops/matmulUnrolled.ts)
