// Elementwise kernels (shaders/elementwise.wgsl): fill, scale, axpy, copy,
// activations and their backward, gather/scatter of rows. CPU references and
// exact semantics: src/cpu/elementwise.ts, src/kernels/elementwise.ts.
import { need, type Tensor } from '../../backend.ts';
import type * as K from '../../kernels/elementwise.ts';
import {
  ACTIVATION_CODE, checkActivation, checkActivationBackward, checkAxpy, checkCopy, checkFill, checkGatherRows, checkScale,
  checkScatterRows,
} from '../../kernels/elementwise.ts';
import type { GpuContext } from '../context.ts';
import { prefix, vec4Ok, vec4Threads, vec4Workgroup } from './launch.ts';

/** How two tensors share storage: WebGPU forbids overlapping writable bindings in one dispatch. */
export type Overlap = 'none' | 'same' | 'partial';

export function overlap(gpu: GpuContext, kernel: string, a: Tensor, b: Tensor): Overlap {
  const ga = gpu.own(a, kernel);
  const gb = gpu.own(b, kernel);
  if (ga.buffer !== gb.buffer) return 'none';
  if (ga.offset + ga.length <= gb.offset || gb.offset + gb.length <= ga.offset) return 'none';
  return ga.offset === gb.offset && ga.length === gb.length ? 'same' : 'partial';
}

/** Throws unless the named tensors occupy disjoint memory. */
export function needDisjoint(gpu: GpuContext, kernel: string, tensors: Record<string, Tensor>): void {
  const names = Object.keys(tensors);
  for (let i = 0; i < names.length; i++) {
    for (let j = i + 1; j < names.length; j++) {
      const a = names[i]!;
      const b = names[j]!;
      need(overlap(gpu, kernel, tensors[a]!, tensors[b]!) === 'none', kernel,
        `${a} ('${tensors[a]!.label}') and ${b} ('${tensors[b]!.label}') overlap in memory; ` +
          'WebGPU cannot bind overlapping writable ranges in one dispatch');
    }
  }
}

export function fill(gpu: GpuContext, p: K.FillParams<Tensor>): void {
  checkFill(p);
  // +0.0 is all-zero bits: a buffer clear (not −0.0, whose sign bit is set)
  if (Object.is(p.value, 0)) {
    gpu.clear(p.x, p.n);
    return;
  }
  const k = gpu.registry.get('elementwise', 'fill');
  gpu.dispatch1D(k, { x: p.x }, { n: p.n, value: p.value }, p.n);
}

export function scale(gpu: GpuContext, p: K.ScaleParams<Tensor>): void {
  checkScale(p);
  const k = gpu.registry.get('elementwise', 'scale');
  gpu.dispatch1D(k, { x: p.x }, { n: p.n, alpha: p.alpha }, p.n);
}

export function axpy(gpu: GpuContext, p: K.AxpyParams<Tensor>): void {
  checkAxpy(p);
  needDisjoint(gpu, 'axpy', { x: p.x, y: p.y });
  const k = gpu.registry.get('elementwise', 'axpy');
  gpu.dispatch1D(k, { x: p.x, y: p.y }, { n: p.n, alpha: p.alpha }, p.n);
}

export function copy(gpu: GpuContext, p: K.CopyParams<Tensor>): void {
  checkCopy(p);
  if (p.n === 0) return;
  const src = gpu.own(p.src, 'copy');
  const dst = gpu.own(p.dst, 'copy');
  if (src.buffer !== dst.buffer) {
    gpu.copyBuffer(src, dst, p.n);
    return;
  }
  // one buffer: only the first n elements of each side take part
  if (src.offset === dst.offset) return;
  need(src.offset + p.n <= dst.offset || dst.offset + p.n <= src.offset, 'copy',
    `the first ${p.n} elements of src ('${src.label}') and dst ('${dst.label}') overlap; copy through a separate tensor`);
  const k = gpu.registry.get('elementwise', 'copyWithin');
  gpu.dispatch1D(k, { src: gpu.view(src, 0, p.n), dst: gpu.view(dst, 0, p.n) }, { n: p.n }, p.n);
}

function actConstants(act: K.Activation): Record<string, number> {
  return { ACT: ACTIVATION_CODE[act] };
}

export function activation(gpu: GpuContext, p: K.ActivationParams<Tensor>): void {
  checkActivation(p);
  const o = overlap(gpu, 'activation', p.x, p.y);
  if (o === 'same') {
    const k = gpu.registry.get('elementwise', 'activationInPlace', actConstants(p.act));
    gpu.dispatch1D(k, { y: p.y }, { n: p.n }, p.n);
    return;
  }
  needDisjoint(gpu, 'activation', { x: p.x, y: p.y });
  const k = gpu.registry.get('elementwise', 'activation', actConstants(p.act));
  gpu.dispatch1D(k, { x: p.x, y: p.y }, { n: p.n }, p.n);
}

export function activationBackward(gpu: GpuContext, p: K.ActivationBackwardParams<Tensor>): void {
  checkActivationBackward(p);
  const kernel = 'activationBackward';
  needDisjoint(gpu, kernel, { y: p.y, dx: p.dx });
  needDisjoint(gpu, kernel, { y: p.y, dy: p.dy });
  if (overlap(gpu, kernel, p.dy, p.dx) === 'same') {
    need(!p.accumulate, kernel, 'accumulate with dx = dy is ambiguous; use separate tensors');
    const k = gpu.registry.get('elementwise', 'activationBackwardInPlace', actConstants(p.act));
    gpu.dispatch1D(k, { y: p.y, dx: p.dx }, { n: p.n, accumulate: 0 }, p.n);
    return;
  }
  needDisjoint(gpu, kernel, { dy: p.dy, dx: p.dx });
  if (vec4Ok(p.n)) {
    const k = gpu.registry.get('elementwise', 'activationBackward4', { ...actConstants(p.act), WG: vec4Workgroup(gpu) });
    const v = (t: Tensor) => prefix(gpu, t, p.n);
    gpu.dispatch1D(k, { y4: v(p.y), dy4: v(p.dy), dx4: v(p.dx) }, { n: p.n, accumulate: p.accumulate ? 1 : 0 }, vec4Threads(p.n / 4));
    return;
  }
  const k = gpu.registry.get('elementwise', 'activationBackward', actConstants(p.act));
  gpu.dispatch1D(k, { y: p.y, dy: p.dy, dx: p.dx }, { n: p.n, accumulate: p.accumulate ? 1 : 0 }, p.n);
}

/** Out-of-range indices give zero rows here (the CPU reference throws); see checkRowIndices. */
export function gatherRows(gpu: GpuContext, p: K.GatherRowsParams<Tensor>): void {
  const srcRows = checkGatherRows(p);
  need(p.idx.dtype === 'u32', 'gatherRows', `idx must be a u32 tensor, got ${p.idx.dtype} ('${p.idx.label}')`);
  needDisjoint(gpu, 'gatherRows', { src: p.src, idx: p.idx, dst: p.dst });
  const n = p.rows * p.cols;
  if (n === 0) return;
  if (vec4Ok(p.cols)) {
    const k = gpu.registry.get('elementwise', 'gatherRows4', { WG: vec4Workgroup(gpu) });
    gpu.dispatch1D(k, { src4: prefix(gpu, p.src, srcRows * p.cols), idx: p.idx, dst4: prefix(gpu, p.dst, n) },
      { rows: p.rows, cols: p.cols, srcRows }, vec4Threads(n / 4));
    return;
  }
  const k = gpu.registry.get('elementwise', 'gatherRows');
  gpu.dispatch1D(k, { src: p.src, idx: p.idx, dst: p.dst }, { rows: p.rows, cols: p.cols, srcRows }, n);
}

/**
 * Indices must be distinct (two invocations would race on one destination
 * row); out-of-range indices are skipped here (the CPU reference throws).
 */
export function scatterRows(gpu: GpuContext, p: K.ScatterRowsParams<Tensor>): void {
  const dstRows = checkScatterRows(p);
  need(p.idx.dtype === 'u32', 'scatterRows', `idx must be a u32 tensor, got ${p.idx.dtype} ('${p.idx.label}')`);
  needDisjoint(gpu, 'scatterRows', { src: p.src, idx: p.idx, dst: p.dst });
  const n = p.rows * p.cols;
  if (n === 0) return;
  const k = gpu.registry.get('elementwise', 'scatterRows');
  gpu.dispatch1D(k, { src: p.src, idx: p.idx, dst: p.dst },
    { rows: p.rows, cols: p.cols, dstRows, accumulate: p.accumulate ? 1 : 0 }, n);
}
