// Elementwise kernels: fill, scale, axpy, copy, activations and their backward,
// row gather/scatter. CPU references: src/cpu/elementwise.ts.
//
// 1-D dispatches may be folded into x·y workgroups when over 65535: the linear
// index is gid.x + gid.y * num_workgroups.x * WG.
//
// Every storage binding is read_write, inputs included: models carve one buffer
// into views (parameters, activations), and WebGPU rejects a dispatch that binds
// one buffer both read-only and writable, while disjoint writable bindings of one
// buffer are allowed. Exactly overlapping bindings (in place) are still invalid,
// so in-place calls go to the *_inplace entry points (see src/gpu/ops/elementwise.ts).
override WG: u32 = 256;
// 0 identity, 1 relu, 2 tanh, 3 sigmoid (ACTIVATION_CODE in src/kernels/elementwise.ts)
override ACT: u32 = 0;

@group(0) @binding(1) var<storage, read_write> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<storage, read_write> dy: array<f32>;
@group(0) @binding(4) var<storage, read_write> dx: array<f32>;
@group(0) @binding(5) var<storage, read_write> src: array<f32>;
@group(0) @binding(6) var<storage, read_write> dst: array<f32>;
@group(0) @binding(7) var<storage, read_write> idx: array<u32>;

fn linear_index(gid: vec3u, nwg: vec3u) -> u32 {
  return gid.x + gid.y * nwg.x * WG;
}

struct FillParams { n: u32, value: f32 }
@group(0) @binding(0) var<uniform> fp: FillParams;

@compute @workgroup_size(WG)
fn fill(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = linear_index(gid, nwg);
  if (i < fp.n) { x[i] = fp.value; }
}

struct ScaleParams { n: u32, alpha: f32 }
@group(0) @binding(0) var<uniform> sp: ScaleParams;

@compute @workgroup_size(WG)
fn scale(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = linear_index(gid, nwg);
  if (i < sp.n) { x[i] = sp.alpha * x[i]; }
}

struct AxpyParams { n: u32, alpha: f32 }
@group(0) @binding(0) var<uniform> xp: AxpyParams;

@compute @workgroup_size(WG)
fn axpy(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = linear_index(gid, nwg);
  if (i < xp.n) { y[i] = y[i] + xp.alpha * x[i]; }
}

// copy between disjoint views of one buffer (copyBufferToBuffer needs two buffers)
struct CopyParams { n: u32 }
@group(0) @binding(0) var<uniform> cp: CopyParams;

@compute @workgroup_size(WG)
fn copyWithin(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = linear_index(gid, nwg);
  if (i < cp.n) { dst[i] = src[i]; }
}

// tanh and sigmoid through exp(−|v|) ≤ 1: no overflow for large |v|, where the
// textbook (e^2v − 1)/(e^2v + 1) gives inf/inf = NaN
fn stable_tanh(v: f32) -> f32 {
  let e = exp(-2.0 * abs(v));
  let t = (1.0 - e) / (1.0 + e);
  return select(t, -t, v < 0.0);
}

fn stable_sigmoid(v: f32) -> f32 {
  let e = exp(-abs(v));
  return select(1.0 / (1.0 + e), e / (1.0 + e), v < 0.0);
}

fn act_forward(v: f32) -> f32 {
  switch ACT {
    case 1u: { return select(v, 0.0, v < 0.0); } // relu; NaN passes through
    case 2u: { return stable_tanh(v); }
    case 3u: { return stable_sigmoid(v); }
    default: { return v; }
  }
}

// act'(x) written through the forward output y = act(x)
fn act_derivative(out: f32) -> f32 {
  switch ACT {
    case 1u: { return select(0.0, 1.0, out > 0.0); }
    case 2u: { return 1.0 - out * out; }
    case 3u: { return out * (1.0 - out); }
    default: { return 1.0; }
  }
}

struct ActivationParams { n: u32 }
@group(0) @binding(0) var<uniform> ap: ActivationParams;

@compute @workgroup_size(WG)
fn activation(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = linear_index(gid, nwg);
  if (i < ap.n) { y[i] = act_forward(x[i]); }
}

@compute @workgroup_size(WG)
fn activationInPlace(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = linear_index(gid, nwg);
  if (i < ap.n) { y[i] = act_forward(y[i]); }
}

struct ActivationBackwardParams { n: u32, accumulate: u32 }
@group(0) @binding(0) var<uniform> abp: ActivationBackwardParams;

@compute @workgroup_size(WG)
fn activationBackward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = linear_index(gid, nwg);
  if (i < abp.n) {
    let g = dy[i] * act_derivative(y[i]);
    if (abp.accumulate != 0u) { dx[i] = dx[i] + g; } else { dx[i] = g; }
  }
}

// dx = dx ∘ act'(y): dy and dx are the same tensor (no accumulate)
@compute @workgroup_size(WG)
fn activationBackwardInPlace(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = linear_index(gid, nwg);
  if (i < abp.n) { dx[i] = dx[i] * act_derivative(y[i]); }
}

// vec4 forms for n (or cols) a multiple of 4: on Mesa llvmpipe each storage load
// is a loop over the SIMD lanes whatever its width, so four elements per load
// cost about what one did (src/gpu/ops/launch.ts).
@group(0) @binding(8) var<storage, read_write> y4: array<vec4f>;
@group(0) @binding(9) var<storage, read_write> dy4: array<vec4f>;
@group(0) @binding(10) var<storage, read_write> dx4: array<vec4f>;
@group(0) @binding(11) var<storage, read_write> src4: array<vec4f>;
@group(0) @binding(12) var<storage, read_write> dst4: array<vec4f>;

fn act_derivative4(out: vec4f) -> vec4f {
  return vec4f(act_derivative(out.x), act_derivative(out.y), act_derivative(out.z), act_derivative(out.w));
}

// abp.n counts elements; a grid-stride loop over vec4s (src/gpu/ops/launch.ts VEC4_ITEMS)
@compute @workgroup_size(WG)
fn activationBackward4(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let step = nwg.x * nwg.y * WG;
  for (var i = linear_index(gid, nwg); i < abp.n / 4u; i += step) {
    let g = dy4[i] * act_derivative4(y4[i]);
    if (abp.accumulate != 0u) { dx4[i] = dx4[i] + g; } else { dx4[i] = g; }
  }
}

// One invocation per destination element. An index past the table cannot be
// reported from here: gather writes a zero row, scatter skips the row (the CPU
// reference throws; callers check indices on upload with checkRowIndices).
struct GatherParams { rows: u32, cols: u32, srcRows: u32 }
@group(0) @binding(0) var<uniform> gp: GatherParams;

@compute @workgroup_size(WG)
fn gatherRows(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = linear_index(gid, nwg);
  if (i >= gp.rows * gp.cols) { return; }
  let r = i / gp.cols;
  let j = i - r * gp.cols;
  let s = idx[r];
  var v = 0.0;
  if (s < gp.srcRows) { v = src[s * gp.cols + j]; }
  dst[i] = v;
}

// gp.cols a multiple of 4; a grid-stride loop over destination vec4s
@compute @workgroup_size(WG)
fn gatherRows4(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let cols4 = gp.cols / 4u;
  let step = nwg.x * nwg.y * WG;
  for (var i = linear_index(gid, nwg); i < gp.rows * cols4; i += step) {
    let r = i / cols4;
    let j = i - r * cols4;
    let s = idx[r];
    var v = vec4f(0.0);
    if (s < gp.srcRows) { v = src4[s * cols4 + j]; }
    dst4[i] = v;
  }
}

struct ScatterParams { rows: u32, cols: u32, dstRows: u32, accumulate: u32 }
@group(0) @binding(0) var<uniform> scp: ScatterParams;

@compute @workgroup_size(WG)
fn scatterRows(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = linear_index(gid, nwg);
  if (i >= scp.rows * scp.cols) { return; }
  let r = i / scp.cols;
  let j = i - r * scp.cols;
  let d = idx[r];
  if (d >= scp.dstRows) { return; }
  let k = d * scp.cols + j;
  if (scp.accumulate != 0u) { dst[k] = dst[k] + src[i]; } else { dst[k] = src[i]; }
}
