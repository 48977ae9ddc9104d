// Elementwise kernels. 1-D dispatches may be folded into x·y workgroups when
// over 65535: the linear index is gid.x + gid.y * num_workgroups.x * WG.
override WG: u32 = 256;

struct FillParams { n: u32, value: f32 }
@group(0) @binding(0) var<uniform> fp: FillParams;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;

@compute @workgroup_size(WG)
fn fill(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i < fp.n) { x[i] = fp.value; }
}
