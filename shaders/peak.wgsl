// Peak arithmetic throughput: a best-case FMA-bound kernel, the "limit" the
// benchmark holds matmul and the VAE step against. CPU reference: src/cpu/peak.ts.
//
// Each invocation runs 4 independent vec4 chains acc = fma(acc, a, b) for
// 4·`iters` steps and writes the sum of its lanes. Independent chains hide the FMA
// latency; on the CPU adapters (llvmpipe, SwiftShader) invocations map to SIMD
// lanes, so a vec4 chain becomes four vector registers — 4 chains = 16 registers,
// all of AVX2's, without spilling (8 spill: docs/kernels-results.md §6). |a| < 1 keeps every chain contracting towards
// b/(1−a), so float rounding cannot grow and the result stays checkable.
// No memory traffic inside the loop: one load, one store per invocation.
override WG: u32 = 64;

struct PeakParams { n: u32, iters: u32, a: f32, b: f32 }
@group(0) @binding(0) var<uniform> pp: PeakParams;
@group(0) @binding(1) var<storage, read> seed: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG)
fn fmaChains(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= pp.n) { return; }
  let s = seed[i];
  let a = vec4f(pp.a);
  let b = vec4f(pp.b);
  // distinct starting points so no two chains are the same computation
  var c0 = vec4f(s) + vec4f(0.00, 0.01, 0.02, 0.03);
  var c1 = vec4f(s) + vec4f(0.04, 0.05, 0.06, 0.07);
  var c2 = vec4f(s) + vec4f(0.08, 0.09, 0.10, 0.11);
  var c3 = vec4f(s) + vec4f(0.12, 0.13, 0.14, 0.15);
  for (var t = 0u; t < pp.iters; t++) {
    // unrolled 4×: less loop overhead per FMA on llvmpipe
    c0 = fma(c0, a, b);
    c1 = fma(c1, a, b);
    c2 = fma(c2, a, b);
    c3 = fma(c3, a, b);
    c0 = fma(c0, a, b);
    c1 = fma(c1, a, b);
    c2 = fma(c2, a, b);
    c3 = fma(c3, a, b);
    c0 = fma(c0, a, b);
    c1 = fma(c1, a, b);
    c2 = fma(c2, a, b);
    c3 = fma(c3, a, b);
    c0 = fma(c0, a, b);
    c1 = fma(c1, a, b);
    c2 = fma(c2, a, b);
    c3 = fma(c3, a, b);
  }
  let v = (c0 + c1) + (c2 + c3);
  out[i] = (v.x + v.y) + (v.z + v.w);
}
