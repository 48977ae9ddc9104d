// Reductions (shaders/reduce.wgsl): row sums, column sums, full sums and the
// non-finite count, deterministic for any size. Large sums run in several
// passes over partial sums held in pooled scratch tensors, released as soon as
// they are recorded (the pool hands them out again only after submission).
// The helpers here are shared by the likelihood kernels, whose fused first
// pass writes partial sums in the same layouts.
import { KernelError, type Tensor } from '../../backend.ts';
import type * as K from '../../kernels/reduce.ts';
import { checkCountNonFinite, checkSumAll, checkSumCols, checkSumRows } from '../../kernels/reduce.ts';
import { fold, type GpuContext } from '../context.ts';
import type { Kernel } from '../registry.ts';

/** Elements one workgroup folds into one partial sum in a full-sum pass. */
export const SUM_ALL_CHUNK = 2048;
/** Rows one thread sums serially in a column-sum pass (more when rows would exceed the grid). */
export const COL_CHUNK_ROWS = 256;
/** Threads per workgroup (one per column) in column-sum passes. */
export const COL_WORKGROUP = 64;
const COL_WG = COL_WORKGROUP;
/** Threads per workgroup of the row-segment trees. */
const ROW_WG = 64;

function nextPow2(v: number): number {
  let p = 1;
  while (p < v) p *= 2;
  return p;
}

/**
 * Workgroup shape for row-wise reductions: 64 threads, TPR of them per row, each
 * summing ~32 elements serially (narrow rows: one thread per row): wider
 * workgroups pay SwiftShader's barriers, thinner ones lose on both CPU adapters
 * (docs/kernels-results.md §4).
 */
export function rowLayout(cols: number): { WG: number; TPR: number } {
  return { WG: ROW_WG, TPR: Math.min(ROW_WG, nextPow2(Math.ceil(cols / 32))) };
}

/** Dispatches a row-segment kernel (compiled with `rowLayout`) over `rows` rows. */
export function dispatchRows(gpu: GpuContext, k: Kernel, buffers: Record<string, Tensor>,
  params: Record<string, number>, rows: number, layout: { WG: number; TPR: number }): void {
  const groups = Math.max(1, Math.ceil(rows / (layout.WG / layout.TPR)));
  gpu.dispatch(k, buffers, params, fold(groups, gpu.limits.maxComputeWorkgroupsPerDimension));
}

/** How a column reduction over `rows` rows is cut into chunks (chunks ≤ the grid's y limit). */
export function colChunking(gpu: GpuContext, rows: number): { rowsPerChunk: number; chunks: number } {
  const maxChunks = gpu.limits.maxComputeWorkgroupsPerDimension;
  const rowsPerChunk = Math.max(COL_CHUNK_ROWS, Math.ceil(rows / maxChunks));
  return { rowsPerChunk, chunks: Math.max(1, Math.ceil(rows / rowsPerChunk)) };
}

/** Workgroup grid for a column-chunk kernel: x·z column groups, y chunks. */
export function colGrid(gpu: GpuContext, kernel: string, cols: number, chunks: number): [number, number, number] {
  const max = gpu.limits.maxComputeWorkgroupsPerDimension;
  const [x, z] = fold(Math.max(1, Math.ceil(cols / COL_WG)), max);
  if (chunks > max) throw new KernelError(kernel, `${chunks} row chunks exceed the grid limit ${max}`);
  return [x, chunks, z];
}

/** out[j] (+)= Σ_i x[i·cols + j], in as many chunked passes as rows needs. */
export function sumColsInto(gpu: GpuContext, x: Tensor, rows: number, cols: number, out: Tensor, accumulate: boolean): void {
  if (cols === 0) return;
  const k = gpu.registry.get('reduce', 'sumColsChunk', { WG: COL_WG });
  const { rowsPerChunk, chunks } = colChunking(gpu, rows);
  const grid = colGrid(gpu, 'sumCols', cols, chunks);
  if (chunks === 1) {
    gpu.dispatch(k, { xc: x, partial: out }, { rows, cols, rowsPerChunk, accumulate: accumulate ? 1 : 0 }, grid);
    return;
  }
  const partial = gpu.tensor(chunks * cols, { label: 'sumCols partials' });
  gpu.dispatch(k, { xc: x, partial }, { rows, cols, rowsPerChunk, accumulate: 0 }, grid);
  sumColsInto(gpu, partial, chunks, cols, out, accumulate);
  gpu.release(partial);
}

/**
 * out[0] (+)= Σ_{e<n} x[e] (or the count of non-finite x[e]): passes of
 * SUM_ALL_CHUNK-element workgroup trees until one partial is left.
 */
export function sumAllInto(gpu: GpuContext, x: Tensor, n: number, out: Tensor, accumulate: boolean, countNonFinite = false): void {
  if (n <= SUM_ALL_CHUNK) {
    const layout = rowLayout(n);
    const k = gpu.registry.get('reduce', 'sumRows', layout);
    dispatchRows(gpu, k, { x, out }, {
      rows: 1, cols: n, n, accumulate: accumulate ? 1 : 0, countNonFinite: countNonFinite ? 1 : 0,
    }, 1, layout);
    return;
  }
  const rows = Math.ceil(n / SUM_ALL_CHUNK);
  const layout = rowLayout(SUM_ALL_CHUNK);
  const k = gpu.registry.get('reduce', 'sumRows', layout);
  const partial = gpu.tensor(rows, { label: 'sumAll partials' });
  dispatchRows(gpu, k, { x, out: partial }, {
    rows, cols: SUM_ALL_CHUNK, n, accumulate: 0, countNonFinite: countNonFinite ? 1 : 0,
  }, rows, layout);
  // partial counts are integers ≤ SUM_ALL_CHUNK, summed exactly while the total is below 2^24
  sumAllInto(gpu, partial, rows, out, accumulate, false);
  gpu.release(partial);
}

export function sumRows(gpu: GpuContext, p: K.SumRowsParams<Tensor>): void {
  checkSumRows(p);
  if (p.rows === 0) return;
  const layout = rowLayout(p.cols);
  const k = gpu.registry.get('reduce', 'sumRows', layout);
  dispatchRows(gpu, k, { x: p.x, out: p.out }, {
    rows: p.rows, cols: p.cols, n: p.rows * p.cols, accumulate: p.accumulate ? 1 : 0, countNonFinite: 0,
  }, p.rows, layout);
}

export function sumCols(gpu: GpuContext, p: K.SumColsParams<Tensor>): void {
  checkSumCols(p);
  sumColsInto(gpu, p.x, p.rows, p.cols, p.out, p.accumulate ?? false);
}

export function sumAll(gpu: GpuContext, p: K.SumAllParams<Tensor>): void {
  checkSumAll(p);
  sumAllInto(gpu, p.x, p.n, p.out, p.accumulate ?? false);
}

export function countNonFinite(gpu: GpuContext, p: K.CountNonFiniteParams<Tensor>): void {
  checkCountNonFinite(p);
  sumAllInto(gpu, p.x, p.n, p.out, false, true);
}
