// The latentgpu WebAssembly kernel module (built by `npm run build:wasm` into
// src/wasm/kernels.wasm). Memory is imported and shared between the threads;
// the module allocates nothing: src/wasm/backend.ts owns every byte above
// HEAP_BASE and passes byte offsets.
export { matmulThread, matmulScratchBytes } from './matmul';
export { runThread } from './threads';
export {
  activationForward, activationBackward, axpy, scale, sgd,
  sumRows, sumCols, sumAll, countNonFinite,
  gaussianLogDensity, gaussianLogDensityBackward, bernoulliLogLik, bernoulliLogLikBackward,
  klStdNormal, klStdNormalBackward, adam,
} from './kernels';

/** The first byte the host may use (past the module's static data). */
export function heapBase(): usize {
  return __heap_base;
}
