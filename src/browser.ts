/**
 * latentgpu for the browser (`import … from 'latentgpu'` in a bundler that
 * picks the `browser` condition, or `'latentgpu/browser'`): the same API as
 * the Node entry without the file system. Backends are navigator.gpu or the
 * WebAssembly SIMD CPU backend (Web Worker threads when the page is
 * cross-origin isolated: serve it with Cross-Origin-Opener-Policy: same-origin
 * and Cross-Origin-Embedder-Policy: require-corp). The WGSL sources are
 * bundled; the .wasm kernels and the worker are loaded with
 * `new URL(…, import.meta.url)`, which bundlers (Vite, webpack, Rollup) follow.
 * MNIST: `fetchMnist(url)` on the package's `latentgpu/data/mnist-10k.bin` asset.
 *
 * @module latentgpu/browser
 */
export * from './lib/core.ts';

/**
 * Opens a backend: `backend` 'auto' (default; a hardware GPU, else the CPU with
 * the notice sent to `log`), 'webgpu' (any adapter, software ones included, or
 * an error) or 'cpu'.
 */
export { createBackend, type BrowserBackendOptions, type BackendChoice } from './browser/backend.ts';
/** The backend for a choice with the reason it fell back to the CPU, for a page to show. */
export { openBackend, openCpuBackend, hasWebGpuApi, type OpenedBackend } from './browser/backend.ts';
/** Every backend choice ('auto', 'webgpu', 'cpu'), for parsing a page's setting. */
export { BACKEND_CHOICES } from './browser/backend.ts';
