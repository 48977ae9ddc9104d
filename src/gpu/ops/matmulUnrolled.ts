// The generated, fully unrolled matmul: the entry point for a block of `rows` ×
// 4·`cols4` outputs per invocation and a transpose pair is written out here as WGSL
// text, appended to shaders/matmul.wgsl (its bindings, overrides and the vec4
// epilogue storeVec4) and registered as its own shader family, so the kernel
// registry reflects and caches it like any other kernel. Same contract as
// shaders/matmul.wgsl, for m, n, k and the batch strides multiples of 4.
//
// Why generated: SwiftShader (Subzero JIT) keeps a shader's named vec4 values in
// registers or fixed stack slots, but indexes arrays through memory on every use,
// and every storage load there is a per-lane gather whatever its width. So each
// invocation owns rows × 4·cols4 outputs (16×16 by default) as named vec4
// accumulators, and per k-step of 4 loads `rows` vec4 of op(A) and 4·cols4 vec4 of
// op(B): 8 FMAs per loaded float at 16×16, against 4 for the 8×8
// matmulVec4Aligned (figures in docs/kernels-results.md §2).

import { registerShaderSources, shaderSource } from '../shaders.ts';

export interface UnrolledShape {
  rows: number;
  cols4: number;
  transA: boolean;
  transB: boolean;
}

/** Block limits: rows a multiple of 4 up to 16, up to 4 vec4 columns (64 accumulators at most). */
export const UNROLLED_MAX: [number, number] = [16, 4];

export function unrolledFamily(s: UnrolledShape): string {
  return `matmul_unrolled_r${s.rows}c${s.cols4}${s.transA ? 'ta' : ''}${s.transB ? 'tb' : ''}`;
}

/** The WGSL entry point `matmulUnrolled` for this block shape. */
export function unrolledEntryPoint(s: UnrolledShape): string {
  const { rows: R, cols4: C4, transA, transB } = s;
  const L: string[] = [];
  const rng = (n: number) => Array.from({ length: n }, (_, i) => i);
  L.push('@compute @workgroup_size(WG_X, WG_Y, 1)');
  L.push('fn matmulUnrolled(@builtin(global_invocation_id) gid: vec3u, @builtin(workgroup_id) wid: vec3u) {');
  L.push(`  let col4 = gid.x * ${C4}u;`);
  L.push(`  let r0 = gid.y * ${R}u;`);
  L.push('  let m4 = P.m / 4u;');
  L.push('  let n4 = P.n / 4u;');
  L.push('  let k4 = P.k / 4u;');
  L.push('  if (col4 >= n4 || r0 >= P.m) { return; }');
  L.push('  let aOff = (wid.z * P.strideA) / 4u;');
  L.push('  let bOff = (wid.z * P.strideB) / 4u;');
  L.push('  let cOff = (wid.z * P.strideC) / 4u;');
  // Rows and columns past m, n in an edge block re-read the last in-range ones
  // (in-bounds loads, no branch in the loop); their results are never stored.
  if (transA) {
    // A is k×m: a4[.. + (4q4 + j)·m4 + g] holds rows 4g..4g+3 of op(A) at k-step 4q4 + j
    for (const g of rng(R / 4)) L.push(`  let ga${g} = aOff + min(r0 / 4u + ${g}u, m4 - 1u);`);
    L.push('  var ka = 0u;');
  } else {
    for (const i of rng(R)) L.push(`  let ra${i} = aOff + min(r0 + ${i}u, P.m - 1u) * k4;`);
  }
  if (transB) {
    // B is n×k: a4-style row e of column group t holds 4 k-steps of one column of op(B)
    for (const t of rng(C4)) for (const e of rng(4)) L.push(`  let cb${t}_${e} = bOff + (4u * min(col4 + ${t}u, n4 - 1u) + ${e}u) * k4;`);
  } else {
    for (const t of rng(C4)) L.push(`  let cb${t} = bOff + min(col4 + ${t}u, n4 - 1u);`);
    L.push('  var kb = 0u;');
  }
  for (const i of rng(R)) for (const t of rng(C4)) L.push(`  var acc${i}_${t} = vec4f(0.0);`);
  L.push('  for (var q4 = 0u; q4 < k4; q4++) {');
  // op(B) rows 4q4 + j over the block's vec4 columns t: b{j}_{t}
  if (transB) {
    for (const t of rng(C4)) for (const e of rng(4)) L.push(`    let s${t}_${e} = b4[cb${t}_${e} + q4];`);
    for (const j of rng(4)) for (const t of rng(C4)) {
      const c = 'xyzw'[j];
      L.push(`    let b${j}_${t} = vec4f(s${t}_0.${c}, s${t}_1.${c}, s${t}_2.${c}, s${t}_3.${c});`);
    }
  } else {
    for (const j of rng(4)) for (const t of rng(C4)) L.push(`    let b${j}_${t} = b4[cb${t} + kb${j ? ` + ${j}u * n4` : ''}];`);
  }
  // op(A)[r0 + i, 4q4 + j] as a scalar expression
  const aScalar: (i: number, j: number) => string = transA
    ? (i, j) => `at${j}_${Math.floor(i / 4)}.${'xyzw'[i % 4]}`
    : (i, j) => `av${i}.${'xyzw'[j]}`;
  if (transA) {
    for (const j of rng(4)) for (const g of rng(R / 4)) L.push(`    let at${j}_${g} = a4[ga${g} + ka${j ? ` + ${j}u * m4` : ''}];`);
  } else {
    for (const i of rng(R)) L.push(`    let av${i} = a4[ra${i} + q4];`);
  }
  for (const i of rng(R)) {
    for (const t of rng(C4)) {
      let e = `acc${i}_${t}`;
      for (const j of rng(4)) e = `fma(vec4f(${aScalar(i, j)}), b${j}_${t}, ${e})`;
      L.push(`    acc${i}_${t} = ${e};`);
    }
  }
  if (transA) L.push('    ka += 4u * m4;');
  if (!transB) L.push('    kb += 4u * n4;');
  L.push('  }');
  for (const i of rng(R)) for (const t of rng(C4)) L.push(`  storeVec4(cOff, r0 + ${i}u, col4 + ${t}u, acc${i}_${t});`);
  L.push('}');
  return L.join('\n');
}

const registered = new Set<string>();

/** Registers (once) and returns the shader family holding this block shape's kernel. */
export function unrolledKernelFamily(s: UnrolledShape): string {
  const family = unrolledFamily(s);
  if (!registered.has(family)) {
    registerShaderSources({ [family]: `${shaderSource('matmul')}\n${unrolledEntryPoint(s)}\n` });
    registered.add(family);
  }
  return family;
}
