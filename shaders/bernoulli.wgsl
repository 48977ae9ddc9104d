// Bernoulli log-likelihood with logits, per row (DESIGN §1.3):
//   out[i] = Σ_j x_ij·l_ij − softplus(l_ij),  d/dl = x − sigmoid(l),
// both evaluated so that no exponential of a large positive number is formed.

// #include <row_tree>

// log(1 + e^l) = max(l, 0) + log1p(e^{−|l|})
fn softplus(l: f32) -> f32 {
  let t = exp(-abs(l));
  let u = 1.0 + t;
  // log1p(t): log(u)·t/(u−1) cancels the rounding of u (exact t when u rounds to 1)
  let lp = select(log(u) * t / (u - 1.0), t, u == 1.0);
  return max(l, 0.0) + lp;
}

fn sigmoid(l: f32) -> f32 {
  let t = exp(-abs(l));
  let p = 1.0 / (1.0 + t);
  return select(t * p, p, l >= 0.0);
}

struct RowParams { rows: u32, cols: u32 }
@group(0) @binding(0) var<uniform> rp: RowParams;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> logits: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG)
fn bernoulliLogLik(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3u,
                   @builtin(num_workgroups) nwg: vec3u) {
  let row = (wid.x + wid.y * nwg.x) * (WG / TPR) + li / TPR;
  let lane = li % TPR;
  var s = 0.0;
  if (row < rp.rows) {
    let base = row * rp.cols;
    for (var j = lane; j < rp.cols; j += TPR) {
      let l = logits[base + j];
      s += x[base + j] * l - softplus(l);
    }
  }
  rowTree(li, lane, s);
  if (lane == 0u && row < rp.rows) { out[row] = seg[li]; }
}

// bernoulliLogLik for cols a multiple of 4: each lane reads vec4s of x and the logits
// (on llvmpipe a storage load costs about the same at any width: a loop over the
// SIMD lanes), summed in the same per-lane segments and tree
@group(0) @binding(12) var<storage, read> x4: array<vec4f>;
@group(0) @binding(13) var<storage, read> logits4: array<vec4f>;

@compute @workgroup_size(WG)
fn bernoulliLogLik4(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3u,
                    @builtin(num_workgroups) nwg: vec3u) {
  let row = (wid.x + wid.y * nwg.x) * (WG / TPR) + li / TPR;
  let lane = li % TPR;
  var s = 0.0;
  if (row < rp.rows) {
    let cols4 = rp.cols / 4u;
    let base = row * cols4;
    for (var j = lane; j < cols4; j += TPR) {
      let l = logits4[base + j];
      let t = x4[base + j] * l - vec4f(softplus(l.x), softplus(l.y), softplus(l.z), softplus(l.w));
      s += (t.x + t.y) + (t.z + t.w);
    }
  }
  rowTree(li, lane, s);
  if (lane == 0u && row < rp.rows) { out[row] = seg[li]; }
}

struct GradParams { rows: u32, cols: u32, accumulate: u32 }
@group(0) @binding(4) var<uniform> gp: GradParams;
@group(0) @binding(5) var<storage, read> gx: array<f32>;
@group(0) @binding(6) var<storage, read> glogits: array<f32>;
@group(0) @binding(7) var<storage, read> dOut: array<f32>;
@group(0) @binding(8) var<storage, read_write> dLogits: array<f32>;

@compute @workgroup_size(WG)
fn bernoulliLogLikBackward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let e = gid.x + gid.y * nwg.x * WG;
  if (e >= gp.rows * gp.cols) { return; }
  let g = dOut[e / gp.cols] * (gx[e] - sigmoid(glogits[e]));
  dLogits[e] = select(g, dLogits[e] + g, gp.accumulate != 0u);
}

// bernoulliLogLikBackward for cols a multiple of 4: vec4s of one row at a time
// (vec4 loads: see elementwise.wgsl on llvmpipe's storage loads)
@group(0) @binding(9) var<storage, read> gx4: array<vec4f>;
@group(0) @binding(10) var<storage, read> glogits4: array<vec4f>;
@group(0) @binding(11) var<storage, read_write> dLogits4: array<vec4f>;

@compute @workgroup_size(WG)
fn bernoulliLogLikBackward4(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let cols4 = gp.cols / 4u;
  // grid-stride loop (src/gpu/ops/launch.ts VEC4_ITEMS)
  let step = nwg.x * nwg.y * WG;
  for (var e = gid.x + gid.y * nwg.x * WG; e < gp.rows * cols4; e += step) {
    let l = glogits4[e];
    let s = vec4f(sigmoid(l.x), sigmoid(l.y), sigmoid(l.z), sigmoid(l.w));
    let g = dOut[e / cols4] * (gx4[e] - s);
    dLogits4[e] = select(g, dLogits4[e] + g, gp.accumulate != 0u);
  }
}
