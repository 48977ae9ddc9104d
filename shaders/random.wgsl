// Random numbers and reparameterized sampling (DESIGN §1.2, §1.4).
//
// The mapping from key to numbers, identical in the CPU reference src/cpu/random.ts:
// - Element i of a draw with key {seed, stream, counter} comes from Threefry-2x32-20
//   with key words (seed, stream) and counter block (counter, i >> 1); output word 0
//   feeds element 2j, word 1 element 2j+1. One invocation computes one pair.
// - Uniform: u = (f32(bits >> 9) + 0.5) · 2^−23 ∈ [2^−24, 1 − 2^−24], never 0 or 1,
//   exact in f32, so CPU and GPU uniforms are bit-identical.
// - Normal: Box–Muller, r = sqrt(−2 ln u_2j), θ = 2π·u_2j+1 − π ∈ [−π, π],
//   element 2j = r cos θ, element 2j+1 = r sin θ; ln, cos and sin are evaluated
//   here to ~1e−7 because the WGSL builtins may be far less accurate.
// 1-D dispatches may be folded into x·y workgroups: i = gid.x + gid.y · nwg.x · WG.
override WG: u32 = 256;

// ---- Threefry-2x32-20 (Random123; rotations R_32x2 and parity 0x1BD11BDA) ----

fn rotl(x: u32, r: u32) -> u32 {
  return (x << r) | (x >> (32u - r));
}

// Four rounds of mix: x0 += x1; x1 = rotl(x1, r) ^ x0.
fn threefryRounds4(x: vec2u, r: vec4u) -> vec2u {
  var a = x.x;
  var b = x.y;
  a += b; b = rotl(b, r.x) ^ a;
  a += b; b = rotl(b, r.y) ^ a;
  a += b; b = rotl(b, r.z) ^ a;
  a += b; b = rotl(b, r.w) ^ a;
  return vec2u(a, b);
}

fn threefry2x32(k0: u32, k1: u32, c0: u32, c1: u32) -> vec2u {
  let k2 = 0x1BD11BDAu ^ k0 ^ k1;
  let ra = vec4u(13u, 15u, 26u, 6u);
  let rb = vec4u(17u, 29u, 16u, 24u);
  var x = vec2u(c0 + k0, c1 + k1);
  // key injection s after every four rounds adds (ks[s], ks[s+1] + s), indices mod 3
  x = threefryRounds4(x, ra); x += vec2u(k1, k2 + 1u);
  x = threefryRounds4(x, rb); x += vec2u(k2, k0 + 2u);
  x = threefryRounds4(x, ra); x += vec2u(k0, k1 + 3u);
  x = threefryRounds4(x, rb); x += vec2u(k1, k2 + 4u);
  x = threefryRounds4(x, ra); x += vec2u(k2, k0 + 5u);
  return x;
}

fn uniformFromBits(bits: u32) -> f32 {
  return (f32(bits >> 9u) + 0.5) * (1.0 / 8388608.0);
}

// ln u for u in (0, 1). WGSL promises log only to 2^−21 absolute near 1, where
// −2 ln u is tiny and that error would dominate r; there 2·atanh(s) with
// s = (u − 1)/(u + 1), |s| ≤ 1/3, is a short odd series (truncation < 1e−9).
fn logUnit(u: f32) -> f32 {
  if (u < 0.5) { return log(u); }
  let s = (u - 1.0) / (u + 1.0);
  let s2 = s * s;
  var p = 1.0 / 15.0;
  p = p * s2 + 1.0 / 13.0;
  p = p * s2 + 1.0 / 11.0;
  p = p * s2 + 1.0 / 9.0;
  p = p * s2 + 1.0 / 7.0;
  p = p * s2 + 1.0 / 5.0;
  p = p * s2 + 1.0 / 3.0;
  p = p * s2 + 1.0;
  return 2.0 * s * p;
}

const HALF_PI = 1.57079632679489661923;

// (cos θ, sin θ) for θ = 2π·u − π = (π/2)·w, w = 4(u − ½) ∈ (−2, 2). w is exact in f32
// (u is a multiple of 2^−24), so the quadrant split w = k + f is exact and only
// t = (π/2)·f, |t| ≤ π/4, is rounded. WGSL allows cos/sin an absolute error of 2^−11
// (SwiftShader measured ~2e−4); these Taylor polynomials are within 2e−9 on |t| ≤ π/4.
fn cosSinOfUniform(u: f32) -> vec2f {
  let w = 4.0 * (u - 0.5);
  let k = round(w);
  let t = HALF_PI * (w - k);
  let t2 = t * t;
  let s = t * (1.0 + t2 * (-1.0 / 6.0 + t2 * (1.0 / 120.0 + t2 * (-1.0 / 5040.0 + t2 * (1.0 / 362880.0)))));
  let c = 1.0 + t2 * (-0.5 + t2 * (1.0 / 24.0 + t2 * (-1.0 / 720.0 + t2 * (1.0 / 40320.0 + t2 * (-1.0 / 3628800.0)))));
  // rotate by k quarter turns
  let q = i32(k);
  if (q == 0) { return vec2f(c, s); }
  if (q == 1) { return vec2f(-s, c); }
  if (q == -1) { return vec2f(s, -c); }
  return vec2f(-c, -s);
}

// Two standard normals of pair j of the draw.
fn normalPair(seed: u32, stream: u32, counter: u32, j: u32) -> vec2f {
  let bits = threefry2x32(seed, stream, counter, j);
  let r = sqrt(-2.0 * logUnit(uniformFromBits(bits.x)));
  return r * cosSinOfUniform(uniformFromBits(bits.y));
}

// ---- randomUniform, randomNormal: values[i] for i < n (named so they do not
// shadow WGSL's `uniform` address space) ----

struct RandomParams { n: u32, seed: u32, stream: u32, counter: u32 }
@group(0) @binding(0) var<uniform> rp: RandomParams;
@group(0) @binding(1) var<storage, read_write> values: array<f32>;

@compute @workgroup_size(WG)
fn randomUniform(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let j = gid.x + gid.y * nwg.x * WG;
  let i = 2u * j;
  if (i >= rp.n) { return; }
  let bits = threefry2x32(rp.seed, rp.stream, rp.counter, j);
  values[i] = uniformFromBits(bits.x);
  if (i + 1u < rp.n) { values[i + 1u] = uniformFromBits(bits.y); }
}

@compute @workgroup_size(WG)
fn randomNormal(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let j = gid.x + gid.y * nwg.x * WG;
  let i = 2u * j;
  if (i >= rp.n) { return; }
  let g = normalPair(rp.seed, rp.stream, rp.counter, j);
  values[i] = g.x;
  if (i + 1u < rp.n) { values[i + 1u] = g.y; }
}

// ---- reparamDiag: eps ~ N(0, 1); z = m + eps ∘ exp(½ logvar), n = rows·cols ----

@group(0) @binding(1) var<storage, read> m: array<f32>;
@group(0) @binding(2) var<storage, read> logvar: array<f32>;
@group(0) @binding(3) var<storage, read_write> eps: array<f32>;
@group(0) @binding(4) var<storage, read_write> z: array<f32>;

@compute @workgroup_size(WG)
fn reparamDiag(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let j = gid.x + gid.y * nwg.x * WG;
  let i = 2u * j;
  if (i >= rp.n) { return; }
  let g = normalPair(rp.seed, rp.stream, rp.counter, j);
  eps[i] = g.x;
  z[i] = m[i] + g.x * exp(0.5 * logvar[i]);
  if (i + 1u < rp.n) {
    eps[i + 1u] = g.y;
    z[i + 1u] = m[i + 1u] + g.y * exp(0.5 * logvar[i + 1u]);
  }
}

// ---- reparamDiagBackward: dM (+)= dz; dLogvar (+)= dz ∘ eps ∘ ½ exp(½ logvar) ----

struct ReparamDiagBackwardParams { n: u32, accumulate: u32 }
@group(0) @binding(0) var<uniform> rbp: ReparamDiagBackwardParams;
@group(0) @binding(1) var<storage, read> dz: array<f32>;
@group(0) @binding(2) var<storage, read> epsIn: array<f32>;
@group(0) @binding(3) var<storage, read> logvarIn: array<f32>;
@group(0) @binding(4) var<storage, read_write> dM: array<f32>;
@group(0) @binding(5) var<storage, read_write> dLogvar: array<f32>;

@compute @workgroup_size(WG)
fn reparamDiagBackward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= rbp.n) { return; }
  let g = dz[i];
  let gl = g * epsIn[i] * 0.5 * exp(0.5 * logvarIn[i]);
  if (rbp.accumulate != 0u) {
    dM[i] += g;
    dLogvar[i] += gl;
  } else {
    dM[i] = g;
    dLogvar[i] = gl;
  }
}

// ---- reparamChol, second pass: z_r = m_r + L eps_r (eps from randomNormal), L lower-triangular ----

struct CholApplyParams { rows: u32, d: u32 }
@group(0) @binding(0) var<uniform> cp: CholApplyParams;
@group(0) @binding(1) var<storage, read> mRows: array<f32>;
@group(0) @binding(2) var<storage, read> l: array<f32>;
@group(0) @binding(3) var<storage, read> epsRows: array<f32>;
@group(0) @binding(4) var<storage, read_write> zRows: array<f32>;

// One invocation per element (r, i): the d ≤ a few hundred latent sizes of this
// project keep the dot product short, and rows·d invocations fill the device.
@compute @workgroup_size(WG)
fn reparamCholApply(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let k = gid.x + gid.y * nwg.x * WG;
  if (k >= cp.rows * cp.d) { return; }
  let r = k / cp.d;
  let i = k - r * cp.d;
  let e = r * cp.d;
  var s = mRows[k];
  for (var j = 0u; j <= i; j++) {
    s += l[i * cp.d + j] * epsRows[e + j];
  }
  zRows[k] = s;
}
