// Diagonal Gaussian log-density per row (DESIGN §1.3):
//   out[i] = −½ Σ_j [log 2π + lv_ij + (x_ij − μ_ij)² e^{−lv_ij}]
// with the log-variance per element, per column or a scalar (logvarMode 0, 1, 2:
// LOGVAR_CODE in src/kernels/likelihood.ts), and its gradients. Row sums use the
// row-segment tree of include/row_tree.wgsl; the column/scalar log-variance gradient
// sums over rows in chunks whose partials reduce.wgsl finishes (deterministic, no
// atomics).

// #include <row_tree>
const LOG_2PI: f32 = 1.8378770664093453;

// Index of the log-variance for element e = i·cols + j.
fn logvarIndex(mode: u32, e: u32, j: u32) -> u32 {
  if (mode == 0u) { return e; }
  if (mode == 1u) { return j; }
  return 0u;
}

struct RowParams { rows: u32, cols: u32, logvarMode: u32 }
@group(0) @binding(0) var<uniform> rp: RowParams;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> mu: array<f32>;
@group(0) @binding(3) var<storage, read> logvar: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG)
fn gaussianLogDensity(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3u,
                      @builtin(num_workgroups) nwg: vec3u) {
  let row = (wid.x + wid.y * nwg.x) * (WG / TPR) + li / TPR;
  let lane = li % TPR;
  var s = 0.0;
  if (row < rp.rows) {
    let base = row * rp.cols;
    for (var j = lane; j < rp.cols; j += TPR) {
      let e = base + j;
      let lv = logvar[logvarIndex(rp.logvarMode, e, j)];
      let r = x[e] - mu[e];
      s += LOG_2PI + lv + r * r * exp(-lv);
    }
  }
  rowTree(li, lane, s);
  if (lane == 0u && row < rp.rows) { out[row] = -0.5 * seg[li]; }
}

// Elementwise gradients of Σ_i dOut[i]·out[i]:
//   dMu = dOut_i · r e^{−lv},  dLogvar = dOut_i · ½ (r² e^{−lv} − 1).
struct GradParams { rows: u32, cols: u32, logvarMode: u32, accumulate: u32 }
@group(0) @binding(5) var<uniform> gp: GradParams;
@group(0) @binding(6) var<storage, read> gx: array<f32>;
@group(0) @binding(7) var<storage, read> gmu: array<f32>;
@group(0) @binding(8) var<storage, read> glogvar: array<f32>;
@group(0) @binding(9) var<storage, read> dOut: array<f32>;
@group(0) @binding(10) var<storage, read_write> dMu: array<f32>;
@group(0) @binding(11) var<storage, read_write> dLogvar: array<f32>;

// dMu for every mode (the log-variance read by mode).
@compute @workgroup_size(WG)
fn gaussianLogDensityBackwardMu(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let e = gid.x + gid.y * nwg.x * WG;
  if (e >= gp.rows * gp.cols) { return; }
  let i = e / gp.cols;
  let j = e - i * gp.cols;
  let g = dOut[i] * (gx[e] - gmu[e]) * exp(-glogvar[logvarIndex(gp.logvarMode, e, j)]);
  dMu[e] = select(g, dMu[e] + g, gp.accumulate != 0u);
}

// dMu and dLogvar for a per-element log-variance.
@compute @workgroup_size(WG)
fn gaussianLogDensityBackwardElement(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let e = gid.x + gid.y * nwg.x * WG;
  if (e >= gp.rows * gp.cols) { return; }
  let d = dOut[e / gp.cols];
  let r = gx[e] - gmu[e];
  let rw = r * exp(-glogvar[e]);
  let gm = d * rw;
  let gl = d * 0.5 * (r * rw - 1.0);
  dMu[e] = select(gm, dMu[e] + gm, gp.accumulate != 0u);
  dLogvar[e] = select(gl, dLogvar[e] + gl, gp.accumulate != 0u);
}

// First pass of the shared log-variance gradient (column or scalar mode):
// partial[c·cols + j] (+)= Σ_{i in chunk c} dOut_i · ½ (r_ij² e^{−lv} − 1),
// one thread per column, chunk c = workgroup_id.y, column groups folded into z.
struct ChunkParams { rows: u32, cols: u32, logvarMode: u32, rowsPerChunk: u32, accumulate: u32 }
@group(0) @binding(12) var<uniform> cp: ChunkParams;
@group(0) @binding(13) var<storage, read> cx: array<f32>;
@group(0) @binding(14) var<storage, read> cmu: array<f32>;
@group(0) @binding(15) var<storage, read> clogvar: array<f32>;
@group(0) @binding(16) var<storage, read> cdOut: array<f32>;
@group(0) @binding(17) var<storage, read_write> partial: array<f32>;

@compute @workgroup_size(WG)
fn gaussianLogDensityBackwardLogvarChunk(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3u,
                                         @builtin(num_workgroups) nwg: vec3u) {
  let j = (wid.x + wid.z * nwg.x) * WG + li;
  if (j >= cp.cols) { return; }
  let lv = clogvar[select(0u, j, cp.logvarMode == 1u)];
  let w = exp(-lv);
  let r0 = wid.y * cp.rowsPerChunk;
  let r1 = min(r0 + cp.rowsPerChunk, cp.rows);
  var s = 0.0;
  for (var i = r0; i < r1; i++) {
    let e = i * cp.cols + j;
    let r = cx[e] - cmu[e];
    s += cdOut[i] * (r * r * w - 1.0);
  }
  s *= 0.5;
  let o = wid.y * cp.cols + j;
  partial[o] = select(s, partial[o] + s, cp.accumulate != 0u);
}
