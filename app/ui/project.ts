// 2-D views of d-dimensional latent means: the first two coordinates when
// d ≤ 2, else the two leading principal components (power iteration with
// deflation on the d×d covariance; d is small).

export function project2d(z: Float32Array, rows: number, d: number): { points: Float32Array; axes: [string, string] } {
  const out = new Float32Array(rows * 2);
  if (d === 1) {
    for (let i = 0; i < rows; i++) out[2 * i] = z[i]!;
    return { points: out, axes: ['z₁', '(d = 1)'] };
  }
  if (d === 2) return { points: z.slice(0, rows * 2), axes: ['z₁', 'z₂'] };
  const mean = new Float64Array(d);
  for (let i = 0; i < rows; i++) for (let j = 0; j < d; j++) mean[j]! += z[i * d + j]! / rows;
  const cov = new Float64Array(d * d);
  for (let i = 0; i < rows; i++) {
    for (let a = 0; a < d; a++) {
      const va = z[i * d + a]! - mean[a]!;
      for (let b = 0; b < d; b++) cov[a * d + b]! += (va * (z[i * d + b]! - mean[b]!)) / rows;
    }
  }
  const comps: Float64Array[] = [];
  for (let c = 0; c < 2; c++) {
    let v = Float64Array.from({ length: d }, (_, j) => 1 + j * 0.1);
    let lambda = 0;
    for (let it = 0; it < 200; it++) {
      const w = new Float64Array(d);
      for (let a = 0; a < d; a++) for (let b = 0; b < d; b++) w[a]! += cov[a * d + b]! * v[b]!;
      const norm = Math.hypot(...w) || 1;
      for (let a = 0; a < d; a++) w[a]! /= norm;
      v = w;
      lambda = norm;
    }
    comps.push(v);
    for (let a = 0; a < d; a++) for (let b = 0; b < d; b++) cov[a * d + b]! -= lambda * v[a]! * v[b]!;
  }
  for (let i = 0; i < rows; i++) {
    for (let c = 0; c < 2; c++) {
      let s = 0;
      for (let j = 0; j < d; j++) s += (z[i * d + j]! - mean[j]!) * comps[c]![j]!;
      out[2 * i + c] = s;
    }
  }
  return { points: out, axes: ['principal component 1', 'principal component 2'] };
}

/** A g×g grid of latents over [−r, r]², row-major, first coordinate along x. */
export function latentGrid(g: number, r = 2): Float32Array {
  const z = new Float32Array(g * g * 2);
  for (let y = 0; y < g; y++) {
    for (let x = 0; x < g; x++) {
      const k = y * g + x;
      z[2 * k] = -r + (2 * r * x) / (g - 1);
      z[2 * k + 1] = r - (2 * r * y) / (g - 1);
    }
  }
  return z;
}
