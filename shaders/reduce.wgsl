// Deterministic reductions: every sum is a fixed tree (serial per thread, then a
// workgroup tree, then further passes over the partial sums), never float
// atomics, so the same input gives the same bits on every run.

// #include <row_tree>

struct RowParams {
  rows: u32,
  cols: u32,
  // valid elements: row r, column j is summed when j < cols and r·cols + j < n (ragged last row)
  n: u32,
  accumulate: u32,
  // 1: sum the indicator "x is NaN or ±Inf" instead of x
  countNonFinite: u32,
}
@group(0) @binding(0) var<uniform> rp: RowParams;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

// Exponent bits all ones: NaN or ±Inf. A bit test, so no fast-math rule can drop it.
fn isNonFinite(v: f32) -> bool {
  return (bitcast<u32>(v) & 0x7f800000u) == 0x7f800000u;
}

// out[r] (+)= Σ_j x[r·cols + j] (the row-segment tree of include/row_tree.wgsl).
@compute @workgroup_size(WG)
fn sumRows(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3u,
           @builtin(num_workgroups) nwg: vec3u) {
  let row = (wid.x + wid.y * nwg.x) * (WG / TPR) + li / TPR;
  let lane = li % TPR;
  var s = 0.0;
  if (row < rp.rows) {
    let base = row * rp.cols;
    let end = min(rp.cols, rp.n - base);
    for (var j = lane; j < end; j += TPR) {
      let v = x[base + j];
      if (rp.countNonFinite != 0u) {
        s += select(0.0, 1.0, isNonFinite(v));
      } else {
        s += v;
      }
    }
  }
  rowTree(li, lane, s);
  if (lane == 0u && row < rp.rows) {
    let total = seg[li];
    out[row] = select(total, out[row] + total, rp.accumulate != 0u);
  }
}

struct ColParams {
  rows: u32,
  cols: u32,
  rowsPerChunk: u32,
  accumulate: u32,
}
@group(0) @binding(3) var<uniform> cp: ColParams;
@group(0) @binding(4) var<storage, read> xc: array<f32>;
@group(0) @binding(5) var<storage, read_write> partial: array<f32>;

// partial[c·cols + j] (+)= Σ_{i in chunk c} x[i·cols + j]: one thread per column,
// chunk c = workgroup_id.y; adjacent threads read adjacent columns. Column
// groups beyond the x limit fold into z.
@compute @workgroup_size(WG)
fn sumColsChunk(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3u,
                @builtin(num_workgroups) nwg: vec3u) {
  let j = (wid.x + wid.z * nwg.x) * WG + li;
  if (j >= cp.cols) { return; }
  let r0 = wid.y * cp.rowsPerChunk;
  let r1 = min(r0 + cp.rowsPerChunk, cp.rows);
  var s = 0.0;
  for (var i = r0; i < r1; i++) { s += xc[i * cp.cols + j]; }
  let o = wid.y * cp.cols + j;
  partial[o] = select(s, partial[o] + s, cp.accumulate != 0u);
}
