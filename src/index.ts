/**
 * latentgpu for Node: the platform-neutral API (src/lib/core.ts) plus the
 * backends Node opens (Dawn's WebGPU through the npm package `webgpu`, the
 * WebAssembly SIMD CPU backend on worker threads), the bundled MNIST file and
 * data files read from disk, and model files saved and loaded by path.
 *
 * ```ts
 * import { createBackend, loadMnist, uploadData, fitEm } from 'latentgpu';
 * const backend = await createBackend();            // auto: a hardware GPU, else the CPU
 * const { train } = loadMnist({ subset: 2000 });
 * const { loglik } = await fitEm(backend, uploadData(backend, train), { d: 10 });
 * ```
 *
 * @module latentgpu
 */
export * from './lib/core.ts';

/**
 * Opens a backend: `backend` 'auto' (default; WebGPU on a hardware GPU, else the
 * CPU with a one-line notice to `log`), 'webgpu' (the adapter asked for, or an
 * error) or 'cpu' (WebAssembly SIMD on every core).
 */
export { createBackend, type BackendOptions, type BackendChoice } from './node/backend.ts';
/** The CPU backend alone (WebAssembly SIMD; LATENTGPU_CPU=reference selects the TypeScript kernels). */
export { createCpuBackend } from './node/backend.ts';
/** A WebGPU backend on a named adapter, the matmul variant tuned once per machine (cached under ~/.cache/latentgpu). */
export { createWebGpuBackend } from './node/backend.ts';
/** The bundled MNIST digits (data/mnist-10k.bin), split 8,000/2,000; `subset` keeps the first N train rows. */
export { loadMnist, MNIST_PATH } from './data/mnist.node.ts';
/** A .csv/.tsv/.txt or .npy file as a dataset, size-checked before it is read. */
export { loadDataFile } from './data/files.node.ts';
/** A .npy (float32/float64) or raw float32 file (.f32/.bin, `dim` values a row) as a RowSource read in slices, never whole. */
export { openFileSource, type FileSourceOptions } from './data/source.node.ts';
/** Model files on disk: atomic save, size-checked load through the one codec. */
export { saveModelFile, loadModelFile } from './lib/modelFiles.node.ts';
