// KL(N(m_i, diag e^{lv_i}) ‖ N(0, I)) per row (DESIGN §1.4):
//   out[i] = ½ Σ_j (m² + e^{lv} − 1 − lv),  dM = dOut_i·m,  dLogvar = dOut_i·½(e^{lv} − 1).

// #include <row_tree>

struct RowParams { rows: u32, cols: u32 }
@group(0) @binding(0) var<uniform> rp: RowParams;
@group(0) @binding(1) var<storage, read> m: array<f32>;
@group(0) @binding(2) var<storage, read> logvar: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG)
fn klStdNormal(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3u,
               @builtin(num_workgroups) nwg: vec3u) {
  let row = (wid.x + wid.y * nwg.x) * (WG / TPR) + li / TPR;
  let lane = li % TPR;
  var s = 0.0;
  if (row < rp.rows) {
    let base = row * rp.cols;
    for (var j = lane; j < rp.cols; j += TPR) {
      let mv = m[base + j];
      let lv = logvar[base + j];
      s += mv * mv + exp(lv) - 1.0 - lv;
    }
  }
  rowTree(li, lane, s);
  if (lane == 0u && row < rp.rows) { out[row] = 0.5 * seg[li]; }
}

struct GradParams { rows: u32, cols: u32, accumulate: u32 }
@group(0) @binding(4) var<uniform> gp: GradParams;
@group(0) @binding(5) var<storage, read> gm: array<f32>;
@group(0) @binding(6) var<storage, read> glogvar: array<f32>;
@group(0) @binding(7) var<storage, read> dOut: array<f32>;
@group(0) @binding(8) var<storage, read_write> dM: array<f32>;
@group(0) @binding(9) var<storage, read_write> dLogvar: array<f32>;

@compute @workgroup_size(WG)
fn klStdNormalBackward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let e = gid.x + gid.y * nwg.x * WG;
  if (e >= gp.rows * gp.cols) { return; }
  let d = dOut[e / gp.cols];
  let a = d * gm[e];
  let b = d * 0.5 * (exp(glogvar[e]) - 1.0);
  dM[e] = select(a, dM[e] + a, gp.accumulate != 0u);
  dLogvar[e] = select(b, dLogvar[e] + b, gp.accumulate != 0u);
}
