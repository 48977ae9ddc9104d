// Optimizer updates over a whole flat parameter buffer, one invocation per
// parameter. CPU references and the exact update rules: src/cpu/optim.ts.
// Storage bindings are read_write for the reason given in elementwise.wgsl
// (views of one buffer may be bound together).
override WG: u32 = 256;

@group(0) @binding(1) var<storage, read_write> param: array<f32>;
@group(0) @binding(2) var<storage, read_write> grad: array<f32>;
@group(0) @binding(3) var<storage, read_write> m: array<f32>;
@group(0) @binding(4) var<storage, read_write> v: array<f32>;

fn linear_index(gid: vec3u, nwg: vec3u) -> u32 {
  return gid.x + gid.y * nwg.x * WG;
}

// 1 − beta, 1 − beta1^t and 1 − beta2^t come from the host in float64: in f32,
// 1.0 − 0.999 is off by 1.3e-5 relative (0.999 is not exact), and beta2^t for
// t in the thousands loses digits in pow
struct AdamParams {
  n: u32,
  lr: f32,
  beta1: f32,
  beta2: f32,
  oneMinusBeta1: f32,
  oneMinusBeta2: f32,
  eps: f32,
  biasCorrection1: f32,
  biasCorrection2: f32,
  weightDecay: f32,
}
@group(0) @binding(0) var<uniform> ap: AdamParams;

@compute @workgroup_size(WG)
fn adam(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = linear_index(gid, nwg);
  if (i >= ap.n) { return; }
  let g = grad[i];
  let mi = ap.beta1 * m[i] + ap.oneMinusBeta1 * g;
  let vi = ap.beta2 * v[i] + ap.oneMinusBeta2 * g * g;
  m[i] = mi;
  v[i] = vi;
  let w = param[i];
  let update = (mi / ap.biasCorrection1) / (sqrt(vi / ap.biasCorrection2) + ap.eps);
  // decoupled weight decay (AdamW): shrinks w directly, not through the moments
  param[i] = w - ap.lr * (update + ap.weightDecay * w);
}

// adam4: the same update four parameters at a time through vec4 bindings, for n a
// multiple of 4. On Mesa llvmpipe every storage load runs a loop over the SIMD
// lanes, so a vec4 load costs about as much as a scalar one (docs/kernels-results.md §5).
@group(0) @binding(5) var<storage, read_write> param4: array<vec4f>;
@group(0) @binding(6) var<storage, read_write> grad4: array<vec4f>;
@group(0) @binding(7) var<storage, read_write> m4: array<vec4f>;
@group(0) @binding(8) var<storage, read_write> v4: array<vec4f>;

@compute @workgroup_size(WG)
fn adam4(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  // grid-stride loop: a few vec4 per invocation (src/gpu/ops/launch.ts VEC4_ITEMS)
  let step = nwg.x * nwg.y * WG;
  for (var i = linear_index(gid, nwg); i < ap.n / 4u; i += step) {
    let g = grad4[i];
    let mi = ap.beta1 * m4[i] + ap.oneMinusBeta1 * g;
    let vi = ap.beta2 * v4[i] + ap.oneMinusBeta2 * g * g;
    m4[i] = mi;
    v4[i] = vi;
    let w = param4[i];
    let update = (mi / ap.biasCorrection1) / (sqrt(vi / ap.biasCorrection2) + ap.eps);
    param4[i] = w - ap.lr * (update + ap.weightDecay * w);
  }
}

struct SgdParams { n: u32, lr: f32 }
@group(0) @binding(0) var<uniform> sp: SgdParams;

@compute @workgroup_size(WG)
fn sgd(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = linear_index(gid, nwg);
  if (i < sp.n) { param[i] = param[i] - sp.lr * grad[i]; }
}
