// latentgpu's kernel-level surface, for benchmarks and reference
// implementations rather than training: the WebGPU matmul variants and their
// tuner, the peak-FMA probe, and the host random generators. Platform-neutral;
// src/lib/kernels.node.ts adds the Node-only pieces. Nothing here is needed to
// train a model (src/index.ts, src/browser.ts are the library).

/** The WebGPU matmul variants, one of them by name, the one matmul() uses per shape class, and the per-adapter tuner. */
export {
  MATMUL_VARIANTS, matmulVariant, matmulVariantFor, tuneMatmul, shapeClassOf,
  type MatmulVariant, type MatmulShapeClass, type MatmulVariantOptions, type TuneResult, type MatmulVariantStore,
} from '../gpu/ops/matmul.ts';
/** Peak FMA throughput on WebGPU: the workgroup sizes tried and the kernel (shaders/peak.wgsl). */
export { PEAK_WORKGROUPS, fmaChains } from '../gpu/ops/peak.ts';
/** The floating-point operations of one peak-FMA launch (n chains of `iters` FMAs). */
export { peakFlops, type PeakParams } from '../kernels/peak.ts';
/** The host's seeded generators (initial weights, minibatch order), for a reference implementation drawing the same numbers. */
export { HostRng, mixSeed, epochPermutation, type RngAlgorithm } from '../train/rng.ts';
