// Principal angles between the column spaces of two D×d matrices (radians,
// smallest first): orthonormalize both (modified Gram–Schmidt, float64), then
// the singular values of Q₁ᵀQ₂ are the cosines.
import { Matrix, SingularValueDecomposition } from 'ml-matrix';

function orthonormalColumns(a: ArrayLike<number>, D: number, d: number): Float64Array {
  const q = Float64Array.from(a as ArrayLike<number>);
  for (let j = 0; j < d; j++) {
    for (let p = 0; p < j; p++) {
      let dot = 0;
      for (let r = 0; r < D; r++) dot += q[r * d + j]! * q[r * d + p]!;
      for (let r = 0; r < D; r++) q[r * d + j]! -= dot * q[r * d + p]!;
    }
    let norm = 0;
    for (let r = 0; r < D; r++) norm += q[r * d + j]! ** 2;
    norm = Math.sqrt(norm);
    if (!(norm > 0)) throw new Error(`principal angles: column ${j} is linearly dependent`);
    for (let r = 0; r < D; r++) q[r * d + j]! /= norm;
  }
  return q;
}

export function principalAngles(a: ArrayLike<number>, b: ArrayLike<number>, D: number, d: number): number[] {
  const qa = orthonormalColumns(a, D, d);
  const qb = orthonormalColumns(b, D, d);
  const c = Matrix.zeros(d, d);
  for (let i = 0; i < d; i++) {
    for (let j = 0; j < d; j++) {
      let s = 0;
      for (let r = 0; r < D; r++) s += qa[r * d + i]! * qb[r * d + j]!;
      c.set(i, j, s);
    }
  }
  const sv = new SingularValueDecomposition(c, { computeLeftSingularVectors: false, computeRightSingularVectors: false }).diagonal;
  return sv.map((s) => Math.acos(Math.min(1, Math.max(-1, s)))).sort((x, y) => x - y);
}
