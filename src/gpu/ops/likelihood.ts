// Likelihood and KL kernels (shaders/gaussian.wgsl, bernoulli.wgsl, kl.wgsl):
// fused row-wise log-densities (row-segment workgroup trees), elementwise
// gradients, and the shared (column/scalar) log-variance gradient as a chunked
// column reduction finished by the passes of ./reduce.ts.
import type { Tensor } from '../../backend.ts';
import type * as K from '../../kernels/likelihood.ts';
import {
  LOGVAR_CODE, checkBernoulliLogLik, checkBernoulliLogLikBackward, checkGaussianLogDensity, checkGaussianLogDensityBackward,
  checkKlStdNormal, checkKlStdNormalBackward,
} from '../../kernels/likelihood.ts';
import type { GpuContext } from '../context.ts';
import { prefix, vec4Ok, vec4Threads, vec4Workgroup } from './launch.ts';
import { COL_WORKGROUP, colChunking, colGrid, dispatchRows, rowLayout, sumAllInto, sumColsInto } from './reduce.ts';

/** Threads per workgroup of the elementwise gradient kernels. */
const ELEMENTWISE_WG = 256;

export function gaussianLogDensity(gpu: GpuContext, p: K.GaussianLogDensityParams<Tensor>): void {
  checkGaussianLogDensity(p);
  if (p.rows === 0) return;
  const layout = rowLayout(p.cols);
  const k = gpu.registry.get('gaussian', 'gaussianLogDensity', layout);
  dispatchRows(gpu, k, { x: p.x, mu: p.mu, logvar: p.logvar, out: p.out },
    { rows: p.rows, cols: p.cols, logvarMode: LOGVAR_CODE[p.logvarMode] }, p.rows, layout);
}

export function gaussianLogDensityBackward(gpu: GpuContext, p: K.GaussianLogDensityBackwardParams<Tensor>): void {
  checkGaussianLogDensityBackward(p);
  const { rows, cols } = p;
  const n = rows * cols;
  const accumulate = p.accumulate ? 1 : 0;
  const mode = LOGVAR_CODE[p.logvarMode];
  const grad = { gx: p.x, gmu: p.mu, glogvar: p.logvar, dOut: p.dOut, dMu: p.dMu };
  if (p.logvarMode === 'element') {
    if (n === 0) return;
    const k = gpu.registry.get('gaussian', 'gaussianLogDensityBackwardElement', { WG: ELEMENTWISE_WG });
    gpu.dispatch1D(k, { ...grad, dLogvar: p.dLogvar }, { rows, cols, logvarMode: mode, accumulate }, n);
    return;
  }
  if (n > 0) {
    const k = gpu.registry.get('gaussian', 'gaussianLogDensityBackwardMu', { WG: ELEMENTWISE_WG });
    gpu.dispatch1D(k, grad, { rows, cols, logvarMode: mode, accumulate }, n);
  }
  // The shared log-variance gradient sums over rows (and, for a scalar, over columns).
  const nShared = p.logvarMode === 'column' ? cols : 1;
  if (n === 0) {
    // an empty sum: dLogvar = 0 (or unchanged when accumulating)
    if (!accumulate) gpu.clear(p.dLogvar, nShared);
    return;
  }
  const k = gpu.registry.get('gaussian', 'gaussianLogDensityBackwardLogvarChunk', { WG: COL_WORKGROUP });
  const { rowsPerChunk, chunks } = colChunking(gpu, rows);
  const grid = colGrid(gpu, 'gaussianLogDensityBackward', cols, chunks);
  const chunkBuffers = { cx: p.x, cmu: p.mu, clogvar: p.logvar, cdOut: p.dOut };
  const chunkParams = { rows, cols, logvarMode: mode, rowsPerChunk };
  if (p.logvarMode === 'column' && chunks === 1) {
    gpu.dispatch(k, { ...chunkBuffers, partial: p.dLogvar }, { ...chunkParams, accumulate }, grid);
    return;
  }
  const partial = gpu.tensor(chunks * cols, { label: 'gaussianLogDensityBackward dLogvar partials' });
  gpu.dispatch(k, { ...chunkBuffers, partial }, { ...chunkParams, accumulate: 0 }, grid);
  if (p.logvarMode === 'column') sumColsInto(gpu, partial, chunks, cols, p.dLogvar, !!accumulate);
  else sumAllInto(gpu, partial, chunks * cols, p.dLogvar, !!accumulate);
  gpu.release(partial);
}

export function bernoulliLogLik(gpu: GpuContext, p: K.BernoulliLogLikParams<Tensor>): void {
  checkBernoulliLogLik(p);
  if (p.rows === 0) return;
  const n = p.rows * p.cols;
  if (vec4Ok(p.cols)) {
    const layout = rowLayout(p.cols / 4);
    const k = gpu.registry.get('bernoulli', 'bernoulliLogLik4', layout);
    dispatchRows(gpu, k, { x4: prefix(gpu, p.x, n), logits4: prefix(gpu, p.logits, n), out: p.out }, { rows: p.rows, cols: p.cols }, p.rows, layout);
    return;
  }
  const layout = rowLayout(p.cols);
  const k = gpu.registry.get('bernoulli', 'bernoulliLogLik', layout);
  dispatchRows(gpu, k, { x: p.x, logits: p.logits, out: p.out }, { rows: p.rows, cols: p.cols }, p.rows, layout);
}

export function bernoulliLogLikBackward(gpu: GpuContext, p: K.BernoulliLogLikBackwardParams<Tensor>): void {
  checkBernoulliLogLikBackward(p);
  const n = p.rows * p.cols;
  if (vec4Ok(p.cols) && p.rows > 0) {
    const k = gpu.registry.get('bernoulli', 'bernoulliLogLikBackward4', { WG: vec4Workgroup(gpu) });
    gpu.dispatch1D(k, { gx4: prefix(gpu, p.x, n), glogits4: prefix(gpu, p.logits, n), dOut: p.dOut, dLogits4: prefix(gpu, p.dLogits, n) },
      { rows: p.rows, cols: p.cols, accumulate: p.accumulate ? 1 : 0 }, vec4Threads(n / 4));
    return;
  }
  const k = gpu.registry.get('bernoulli', 'bernoulliLogLikBackward', { WG: ELEMENTWISE_WG });
  gpu.dispatch1D(k, { gx: p.x, glogits: p.logits, dOut: p.dOut, dLogits: p.dLogits },
    { rows: p.rows, cols: p.cols, accumulate: p.accumulate ? 1 : 0 }, p.rows * p.cols);
}

export function klStdNormal(gpu: GpuContext, p: K.KlStdNormalParams<Tensor>): void {
  checkKlStdNormal(p);
  if (p.rows === 0) return;
  const layout = rowLayout(p.cols);
  const k = gpu.registry.get('kl', 'klStdNormal', layout);
  dispatchRows(gpu, k, { m: p.m, logvar: p.logvar, out: p.out }, { rows: p.rows, cols: p.cols }, p.rows, layout);
}

export function klStdNormalBackward(gpu: GpuContext, p: K.KlStdNormalBackwardParams<Tensor>): void {
  checkKlStdNormalBackward(p);
  const k = gpu.registry.get('kl', 'klStdNormalBackward', { WG: ELEMENTWISE_WG });
  gpu.dispatch1D(k, { gm: p.m, glogvar: p.logvar, dOut: p.dOut, dM: p.dM, dLogvar: p.dLogvar },
    { rows: p.rows, cols: p.cols, accumulate: p.accumulate ? 1 : 0 }, p.rows * p.cols);
}
